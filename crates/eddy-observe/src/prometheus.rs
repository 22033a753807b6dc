//! `/metrics`: a [`JobSnapshot`] in the Prometheus (OpenMetrics) text format, through
//! `prometheus-client`'s encoder. Every figure is read at scrape time from the snapshot (a
//! [`Collector`]), so nothing is registered or counted per record.

use eddy_core::metrics::{JobSnapshot, JobState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeCounterValue, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

/// A snapshot, collected at scrape time.
#[derive(Debug)]
struct Snapshot(JobSnapshot);

/// Encodes `snapshot` as OpenMetrics text.
pub fn encode(snapshot: JobSnapshot) -> String {
    let mut registry = Registry::with_prefix("eddy");
    registry.register_collector(Box::new(Snapshot(snapshot)));
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

/// One metric family: a descriptor and one sample per label set.
fn family<V: Copy, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    (name, help, metric_type): (&str, &str, MetricType),
    series: &[(Labels, V)],
    metric: impl Fn(V) -> M,
) -> std::fmt::Result {
    let mut descriptor = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, value) in series {
        metric(*value).encode(descriptor.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter<V: Copy + EncodeCounterValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, V)],
) -> std::fmt::Result {
    family(encoder, (name, help, MetricType::Counter), series, ConstCounter::new)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, i64)],
) -> std::fmt::Result {
    family(encoder, (name, help, MetricType::Gauge), series, ConstGauge::new)
}

fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    labels: &Labels,
    buckets: &[(u64, u64)],
    sum: f64,
    scale: f64,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    let buckets: Vec<(f64, u64)> = buckets
        .iter()
        .map(|&(bound, count)| (if bound == u64::MAX { f64::MAX } else { bound as f64 * scale }, count))
        .collect();
    let count = buckets.iter().map(|(_, count)| count).sum();
    metric.encode_family(labels)?.encode_histogram::<Labels>(sum, count, &buckets, None)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let job = &self.0;
        let process: Labels = vec![("process".into(), job.process.to_string())];
        let one = |value: u64| vec![(process.clone(), value)];
        let one_i = |value: u64| vec![(process.clone(), value.min(i64::MAX as u64) as i64)];
        let running = (job.state == JobState::Running) as u64;
        gauge(&mut encoder, "job_running", "1 while the job runs, 0 once it ended", &one_i(running))?;
        let failed = (job.state == JobState::Failed) as u64;
        gauge(&mut encoder, "job_failed", "1 once the job ended with an error", &one_i(failed))?;
        gauge(
            &mut encoder,
            "job_uptime_ms",
            "Milliseconds since the job started (until it ended)",
            &one_i(job.uptime_ms),
        )?;
        gauge(&mut encoder, "job_workers", "Worker threads of this process", &one_i(job.workers as u64))?;
        gauge(&mut encoder, "job_processes", "Processes of the job", &one_i(job.processes as u64))?;
        counter(
            &mut encoder,
            "job_restarts",
            "Restarts by the supervisor before this process",
            &one(job.restarts),
        )?;
        counter(
            &mut encoder,
            "source_records",
            "Records read by this process's sources",
            &one(job.records_read),
        )?;
        counter(
            &mut encoder,
            "sink_records",
            "Records handed to this process's sinks",
            &one(job.records_out),
        )?;
        counter(
            &mut encoder,
            "dead_letters",
            "Bad records sent to dead-letter outputs",
            &one(job.dead_letters),
        )?;
        if let Some(watermark) = job.source_watermark {
            gauge(
                &mut encoder,
                "source_watermark_ms",
                "Minimum watermark of this process's sources",
                &one_i(watermark),
            )?;
        }
        if let Some(lag) = job.watermark_lag_ms {
            gauge(&mut encoder, "watermark_lag_ms", "Wall clock minus the source watermark", &one_i(lag))?;
        }
        let mut records_in = Vec::new();
        let mut records_out = Vec::new();
        let mut exchanged = Vec::new();
        let mut busy = Vec::new();
        let mut activations = Vec::new();
        for operator in &job.operators {
            for worker in &operator.workers {
                let mut labels: Labels = vec![
                    ("operator".into(), operator.id.clone()),
                    ("name".into(), operator.name.clone()),
                    ("worker".into(), worker.worker.to_string()),
                ];
                if let Some(uid) = &operator.uid {
                    labels.push(("uid".into(), uid.clone()));
                }
                records_in.push((labels.clone(), worker.records_in));
                records_out.push((labels.clone(), worker.records_out));
                exchanged.push((labels.clone(), worker.records_exchanged));
                busy.push((labels.clone(), worker.busy_ns as f64 / 1e9));
                activations.push((labels, worker.activations));
            }
        }
        counter(&mut encoder, "operator_records_in", "Records an operator received", &records_in)?;
        counter(&mut encoder, "operator_records_out", "Records an operator emitted", &records_out)?;
        counter(
            &mut encoder,
            "operator_records_exchanged",
            "Records an operator sent to other workers",
            &exchanged,
        )?;
        counter(&mut encoder, "operator_busy_seconds", "Time an operator spent scheduled", &busy)?;
        counter(&mut encoder, "operator_activations", "Times an operator was scheduled", &activations)?;
        let checkpoints = &job.checkpoints;
        counter(&mut encoder, "checkpoints_started", "Checkpoints announced", &one(checkpoints.started))?;
        counter(&mut encoder, "checkpoints_completed", "Checkpoints completed", &one(checkpoints.completed))?;
        counter(&mut encoder, "checkpoints_failed", "Checkpoints abandoned", &one(checkpoints.failed))?;
        histogram(
            &mut encoder,
            "checkpoint_duration_seconds",
            "Completed checkpoints' time from trigger to manifest",
            &process,
            &checkpoints.duration_buckets_ms,
            checkpoints.duration_sum_ms as f64 / 1e3,
            1e-3,
        )?;
        histogram(
            &mut encoder,
            "checkpoint_size_bytes",
            "Completed checkpoints' bytes of parts",
            &process,
            &checkpoints.size_buckets_bytes,
            checkpoints.size_sum_bytes as f64,
            1.0,
        )?;
        if let Some(id) = checkpoints.last_completed_id {
            gauge(
                &mut encoder,
                "checkpoint_last_completed_id",
                "The newest completed checkpoint",
                &one_i(id),
            )?;
        }
        if let Some(age) = checkpoints.last_completed_age_ms {
            gauge(
                &mut encoder,
                "checkpoint_last_completed_age_ms",
                "Milliseconds since it completed",
                &one_i(age),
            )?;
        }
        Ok(())
    }
}
