//! `eddy-bench nexmark --sql --query qN`: the query's Flink SQL file
//! (`crates/eddy-nexmark/sql/qN.sql`, over `ddl.sql` with `events.num` set to `--events`) run
//! through eddy's SQL layer as `eddy sql -f` runs it: every statement executed in a
//! [`Session`], the script's `INSERT INTO`s combined into one job. The report has the
//! DataStream path's figures, computed the same way, with two differences:
//!
//! * `events` is the number of generator events (`--events`); each `nexmark` table the query
//!   reads generates all of them (and keeps its own kind), so `generator_cpu_s` is the
//!   generator's cost for the events times `generator_passes`, the number of tables read.
//! * The queries' `blackhole` sinks are replaced by a counter (`output_rows`: the changes the
//!   query emits, retractions included); other sinks (q10's files) are kept (their rows
//!   are not counted; the directories they write are deleted after the run). Sources have the connector's 4 splits at any worker count. No latency:
//!   `--rate` is refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::prelude::*;
use eddy_nexmark::NexmarkConfig;
use eddy_sql::connect::options::Connector;
use eddy_sql::pipeline::Output;
use eddy_sql::session::{combine, Outcome, Session};

use crate::nexmark::{generator_cpu_seconds, BenchOutput, NexmarkArgs, Report};
use crate::{cpu_seconds, now_us, peak_rss_mb};

/// Runs the SQL file of `args.query` and returns its report.
pub fn run(args: &NexmarkArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.rate.is_none(), "--sql does not measure latency: drop --rate");
    let script = eddy_nexmark::sql::script(&args.query, args.events).ok_or_else(|| {
        anyhow::anyhow!("no SQL file for query `{}` (crates/eddy-nexmark/sql/)", args.query)
    })?;
    let mut session = Session::new();
    let mut jobs = Vec::new();
    for outcome in session.execute(&script).map_err(|error| anyhow::anyhow!("{}: {error}", args.query))? {
        match outcome {
            Outcome::Job(job) if job.target.is_some() => jobs.push(job),
            Outcome::Job(_) => anyhow::bail!("{}: the script has a query with no INSERT INTO", args.query),
            _ => {}
        }
    }
    anyhow::ensure!(!jobs.is_empty(), "{}: the script has no INSERT INTO", args.query);
    let mut pipeline = combine(&jobs).map_err(|error| anyhow::anyhow!("{}: {error}", args.query))?;
    // Directories the job writes (q10's files), deleted after the run as the DataStream path
    // deletes its own.
    let written: Vec<std::path::PathBuf> = pipeline
        .inserts
        .iter()
        .filter_map(|insert| match &insert.output {
            Output::Table(sink) => match &sink.connector {
                Connector::Filesystem { path, .. } => Some(path.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for insert in &mut pipeline.inserts {
        if matches!(&insert.output, Output::Table(sink) if matches!(sink.connector, Connector::Blackhole)) {
            insert.output = Output::Stream;
        }
    }
    let generator_passes = pipeline
        .sources
        .iter()
        .filter(|source| matches!(source.connector, Connector::Nexmark { .. }))
        .count()
        .max(1) as u64;
    let generator_cpu_s = generator_cpu_seconds(&NexmarkConfig::default(), args) * generator_passes as f64;

    let processes = args.cluster.processes.max(1);
    let job_config = JobConfig {
        cluster: args.cluster.config()?,
        progress_interval: Some(args.cluster.progress_interval.unwrap_or(Duration::from_secs(10)))
            .filter(|interval| !interval.is_zero()),
        metrics: args.metrics.then(|| eddy::core::metrics::JobMetrics::new(Arc::new(SystemClock))),
        ..JobConfig::with_workers(args.workers)
    };
    let rows = Arc::new(AtomicU64::new(0));
    let output = BenchOutput { rows: Arc::clone(&rows), files: None, latency: None };
    let start_us = now_us();
    let cpu_before = cpu_seconds();
    Job::new(job_config).run(move |env| {
        for changes in pipeline.build(env)? {
            changes.sink(output.clone());
        }
        Ok(())
    })?;
    let wall_s = (now_us() - start_us) as f64 / 1e6;
    let cpu_s = cpu_seconds() - cpu_before;
    for path in written {
        let _ = std::fs::remove_dir_all(path);
    }
    // This process's share of the generator events (each process reads its splits).
    let events = args.events as f64 / processes as f64;
    Ok(Report {
        query: args.query.clone(),
        events: args.events,
        workers: args.workers,
        processes,
        process: args.cluster.process,
        splits: 4,
        rate: None,
        wall_s,
        cpu_s,
        generator_cpu_s,
        events_per_s: events / wall_s,
        events_per_cpu_s: events / cpu_s,
        engine_events_per_cpu_s: events / (cpu_s - generator_cpu_s).max(1e-9),
        generator_events_per_cpu_s: args.events as f64 * generator_passes as f64 / generator_cpu_s.max(1e-9),
        peak_rss_mb: peak_rss_mb(),
        output_rows: rows.load(Ordering::SeqCst),
        latency_ms: None,
        sql: true,
        metrics: args.metrics,
        generator_passes,
    })
}
