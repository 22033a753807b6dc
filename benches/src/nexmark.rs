//! `eddy-bench nexmark`: one Nexmark query over generated events, printed as one JSON line.
//!
//! * Throughput: `events_per_cpu_s` is events over the whole process's CPU time (user +
//!   system, `getrusage`, generator included); `engine_events_per_cpu_s` subtracts the CPU
//!   time the generator alone needs for the same events, measured first in a separate phase
//!   (`generator_cpu_s`).
//! * Latency (`--rate R`, open loop): the source is paced to `R` events per second and the
//!   generator's event time to the same rate, so event time `t` is ingested at wall time
//!   `start + (t - base)`. An output record carrying event time `t` (a bid's time, a window's
//!   last millisecond) is complete once input up to `t` is in; its latency is the wall time it
//!   reaches the sink minus that moment. For window queries this includes the watermark delay
//!   (`--out-of-orderness-ms`, 4 s as in the suite), as it does in any engine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy::core::sink::{Sink, SinkContext, SinkWriter};
use eddy::prelude::*;
use eddy_nexmark::queries::{self, QueryOutput, QueryRow};
use eddy_nexmark::{nexmark_watermarks_with_delay, NexmarkConfig, NexmarkGenerator, NexmarkSource};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{cpu_seconds, now_us, peak_rss_mb};

/// Flags of `eddy-bench nexmark`.
#[derive(Clone, Debug, clap::Args)]
pub struct NexmarkArgs {
    /// The query (q0, q1, ...); `list` prints the implemented queries.
    #[arg(long)]
    pub query: String,
    /// Events to generate.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Worker threads (per process).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// A multi-process run: `--processes N --process I [--hostfile FILE]`; each process
    /// prints its own report (its share of the events and its own CPU time).
    #[command(flatten)]
    pub cluster: eddy::cli::ClusterArgs,
    /// Source splits (default: one per worker of the job).
    #[arg(long)]
    pub splits: Option<usize>,
    /// Offered load in events per second (open loop); also the generator's event-time rate.
    /// Without it the source runs as fast as the job reads and no latency is reported.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Watermark delay behind the largest event time seen per split.
    #[arg(long, default_value_t = 4_000)]
    pub out_of_orderness_ms: u64,
    /// Run the query's SQL file (`crates/eddy-nexmark/sql/qN.sql` over `ddl.sql`) instead of
    /// its DataStream program (see `nexmark_sql.rs`).
    #[arg(long)]
    pub sql: bool,
    /// Collect the job's metrics (`JobConfig::metrics`, what `--metrics-addr` turns on) to
    /// measure what they cost; nothing is served.
    #[arg(long)]
    pub metrics: bool,
}

/// The JSON line printed per run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub query: String,
    pub events: u64,
    pub workers: usize,
    pub processes: usize,
    pub process: usize,
    pub splits: usize,
    pub rate: Option<u64>,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub generator_cpu_s: f64,
    pub events_per_s: f64,
    pub events_per_cpu_s: f64,
    pub engine_events_per_cpu_s: f64,
    pub generator_events_per_cpu_s: f64,
    pub peak_rss_mb: f64,
    pub output_rows: u64,
    pub latency_ms: Option<Latency>,
    /// Whether the query ran from its SQL file.
    pub sql: bool,
    /// Whether the job collected metrics.
    pub metrics: bool,
    /// How many times the job generates the events (one per `nexmark` table a SQL query
    /// reads; 1 for the DataStream programs); `generator_cpu_s` is the CPU of all of them.
    pub generator_passes: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Counts rows and, when paced, records their latency.
#[derive(Clone)]
pub(crate) struct BenchOutput {
    pub(crate) rows: Arc<AtomicU64>,
    /// Where q10 writes its files (deleted after the run).
    pub(crate) files: Option<std::path::PathBuf>,
    pub(crate) latency: Option<(Arc<Mutex<Histogram<u64>>>, u64, u64)>,
}

impl QueryOutput for BenchOutput {
    fn output<T: QueryRow>(&self, rows: DataStream<'_, T>) {
        rows.sink(self.clone());
    }
    fn file_directory(&self) -> Option<std::path::PathBuf> {
        self.files.clone()
    }
}

struct BenchWriter {
    rows: u64,
    shared_rows: Arc<AtomicU64>,
    /// (merged histogram, wall time of the start in µs, event time of event 0 in ms).
    latency: Option<(Histogram<u64>, Arc<Mutex<Histogram<u64>>>, u64, u64)>,
}

impl<T: 'static> Sink<T> for BenchOutput {
    fn name(&self) -> String {
        "nexmark-bench".into()
    }
    fn writer(&self, _context: &SinkContext) -> eddy::Result<Box<dyn SinkWriter<T>>> {
        let latency = self
            .latency
            .as_ref()
            .map(|(merged, start_us, base_ms)| (new_histogram(), Arc::clone(merged), *start_us, *base_ms));
        Ok(Box::new(BenchWriter { rows: 0, shared_rows: Arc::clone(&self.rows), latency }))
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

impl<T> SinkWriter<T> for BenchWriter {
    fn write(&mut self, _value: T, timestamp: u64, _logical_time: u64) -> eddy::Result<()> {
        self.rows += 1;
        if let Some((histogram, _, start_us, base_ms)) = &mut self.latency {
            let complete_us = *start_us + timestamp.saturating_sub(*base_ms) * 1000;
            histogram.saturating_record(now_us().saturating_sub(complete_us).max(1));
        }
        Ok(())
    }
    fn finish(&mut self) -> eddy::Result<()> {
        self.shared_rows.fetch_add(self.rows, Ordering::SeqCst);
        if let Some((histogram, merged, _, _)) = &self.latency {
            merged.lock().expect("histogram lock").add(histogram).expect("compatible histograms");
        }
        Ok(())
    }
}

/// The CPU time the generator alone needs for this process's share of the events, on one
/// thread.
pub(crate) fn generator_cpu_seconds(config: &NexmarkConfig, args: &NexmarkArgs) -> f64 {
    let generator = NexmarkGenerator::new(config.clone());
    let before = cpu_seconds();
    let mut checksum = 0u64;
    let processes = args.cluster.processes.max(1);
    for n in (args.cluster.process as u64..args.events).step_by(processes) {
        checksum = checksum.wrapping_add(std::hint::black_box(generator.event(n)).date_time());
    }
    std::hint::black_box(checksum);
    cpu_seconds() - before
}

/// Runs one query and returns its report.
pub fn run(args: &NexmarkArgs) -> anyhow::Result<Report> {
    if args.sql {
        return crate::nexmark_sql::run(args);
    }
    anyhow::ensure!(
        queries::QUERIES.contains(&args.query.as_str()),
        "unknown or unimplemented query `{}` (implemented: {})",
        args.query,
        queries::QUERIES.join(", ")
    );
    let mut config = NexmarkConfig::default();
    if let Some(rate) = args.rate {
        config = config.with_events_per_second(rate);
    }
    let processes = args.cluster.processes.max(1);
    let generator_cpu_s = generator_cpu_seconds(&config, args);

    let splits = args.splits.unwrap_or(args.workers * processes).max(1);
    let job_config = JobConfig {
        cluster: args.cluster.config()?,
        // Long runs say how far they are (stderr; the figures go to stdout). 0 turns it off.
        progress_interval: Some(args.cluster.progress_interval.unwrap_or(Duration::from_secs(10)))
            .filter(|interval| !interval.is_zero()),
        metrics: args.metrics.then(|| eddy::core::metrics::JobMetrics::new(Arc::new(SystemClock))),
        ..JobConfig::with_workers(args.workers)
    };
    let rows = Arc::new(AtomicU64::new(0));
    let merged = Arc::new(Mutex::new(new_histogram()));
    let start_us = now_us();
    let files = std::env::temp_dir().join(format!("eddy-bench-{}-{}", args.query, std::process::id()));
    let output = BenchOutput {
        rows: Arc::clone(&rows),
        files: Some(files.clone()),
        latency: args.rate.map(|_| (Arc::clone(&merged), start_us, config.base_time_ms)),
    };
    let (query, events, rate, delay) = (args.query.clone(), args.events, args.rate, args.out_of_orderness_ms);
    let cpu_before = cpu_seconds();
    let summary = Job::new(job_config).run(move |env| {
        let mut source = NexmarkSource::new(config.clone(), Some(events), splits);
        if let Some(rate) = rate {
            source = source.with_max_rate(rate);
        }
        let stream = env.from_source(source, nexmark_watermarks_with_delay(delay));
        queries::build(&query, stream, &output)?;
        Ok(())
    })?;
    let wall_s = (now_us() - start_us) as f64 / 1e6;
    let _ = std::fs::remove_dir_all(&files);
    let cpu_s = cpu_seconds() - cpu_before;
    let histogram = merged.lock().expect("histogram lock");
    let latency = args.rate.filter(|_| !histogram.is_empty()).map(|_| {
        let at = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
        Latency { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: histogram.max() as f64 / 1000.0 }
    });
    let read = summary.records_read as f64;
    Ok(Report {
        query: args.query.clone(),
        events: summary.records_read,
        workers: args.workers,
        processes,
        process: args.cluster.process,
        splits,
        rate: args.rate,
        wall_s,
        cpu_s,
        generator_cpu_s,
        events_per_s: read / wall_s,
        events_per_cpu_s: read / cpu_s,
        engine_events_per_cpu_s: read / (cpu_s - generator_cpu_s).max(1e-9),
        generator_events_per_cpu_s: args.events as f64 / generator_cpu_s.max(1e-9),
        peak_rss_mb: peak_rss_mb(),
        output_rows: rows.load(Ordering::SeqCst),
        latency_ms: latency,
        sql: false,
        metrics: args.metrics,
        generator_passes: 1,
    })
}
