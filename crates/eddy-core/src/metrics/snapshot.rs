//! The figures of a job as one value ([`JobSnapshot`], serialized as the REST API's JSON), and
//! how the workers' published figures are aggregated into it.

use serde::{Deserialize, Serialize};

use super::{
    ChannelFigures, OperatorFigures, ProcessGauges, WorkerFigures, DURATION_BUCKETS_MS, SIZE_BUCKETS_BYTES,
};
use crate::hash::HashMap;

/// Where a job is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// No job has started in this process yet.
    #[default]
    Created,
    /// Running.
    Running,
    /// Ended at the end of its input, by a stop, or after a stop-with-savepoint.
    Finished,
    /// Ended with an error.
    Failed,
}

/// Where a checkpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// Announced; parts are being written.
    InProgress,
    /// Its manifest is written and its output committed.
    Completed,
    /// Abandoned (the input ended first, or the job failed).
    Failed,
}

/// One checkpoint of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Its id (its directory is `chk-<id:010>`).
    pub id: u64,
    /// Its logical time `E`.
    pub logical_time: u64,
    /// When it was announced (wall clock, ms since the epoch).
    pub started_ms: u64,
    /// When it completed or was abandoned.
    pub ended_ms: Option<u64>,
    /// From the trigger to the manifest (the manifest's `stats.duration_ms`), in ms.
    pub duration_ms: Option<u64>,
    /// Bytes of all its parts (known to the process that wrote the manifest).
    pub bytes: Option<u64>,
    /// Where it is.
    pub status: CheckpointStatus,
    /// `checkpoint`, `savepoint` or `final`, once its manifest is written.
    pub kind: Option<String>,
}

/// The first error of the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The error as the job reports it.
    pub message: String,
    /// The worker it happened on, when known.
    pub worker: Option<usize>,
    /// The operator that was running (a panic inside an operator), when known.
    pub operator: Option<String>,
    /// When (wall clock, ms since the epoch).
    pub at_ms: u64,
}

/// One worker's figures for an operator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSnapshot {
    /// Global worker index.
    pub worker: usize,
    /// Records received on all inputs.
    pub records_in: u64,
    /// Records emitted (per output port, the most any one consumer received; summed over ports).
    pub records_out: u64,
    /// Records sent to other workers.
    pub records_exchanged: u64,
    /// Time spent scheduled, in nanoseconds.
    pub busy_ns: u64,
    /// Times scheduled.
    pub activations: u64,
}

/// An operator, aggregated over the workers of this process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Its address in the dataflow as `a.b.c` (the same on every worker).
    pub id: String,
    /// Its name (`Source(orders)`, `Map`, `Sink(files)`, ...).
    pub name: String,
    /// The uid its state is stored under, for stateful operators.
    pub uid: Option<String>,
    /// Workers it runs on in this process.
    pub parallelism: usize,
    /// Sums over the workers.
    pub records_in: u64,
    /// See [`WorkerSnapshot::records_out`].
    pub records_out: u64,
    /// Records sent to other workers.
    pub records_exchanged: u64,
    /// Time spent scheduled, in nanoseconds.
    pub busy_ns: u64,
    /// Times scheduled.
    pub activations: u64,
    /// Per worker.
    pub workers: Vec<WorkerSnapshot>,
}

/// An edge of the job graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeSnapshot {
    /// The producing operator's id.
    pub source: String,
    /// Its output port.
    pub source_port: usize,
    /// The consuming operator's id.
    pub target: String,
    /// Its input port.
    pub target_port: usize,
    /// `exchange` once records were seen crossing workers, otherwise `local` (a pipeline, or an
    /// exchange with one worker, which moves nothing).
    pub exchange: String,
    /// Records received over it, summed over the workers.
    pub records: u64,
}

/// Checkpoint counters, histograms and history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSnapshot {
    /// Announced.
    pub started: u64,
    /// Completed.
    pub completed: u64,
    /// Abandoned.
    pub failed: u64,
    /// `(upper bound ms, count)` per bucket, not cumulative; the last bound is `u64::MAX`.
    pub duration_buckets_ms: Vec<(u64, u64)>,
    /// Sum of the completed checkpoints' durations.
    pub duration_sum_ms: u64,
    /// `(upper bound bytes, count)` per bucket, not cumulative; the last bound is `u64::MAX`.
    pub size_buckets_bytes: Vec<(u64, u64)>,
    /// Sum of the completed checkpoints' sizes.
    pub size_sum_bytes: u64,
    /// The newest completed (committed, on a follower) checkpoint.
    pub last_completed_id: Option<u64>,
    /// How long ago it completed, in ms.
    pub last_completed_age_ms: Option<u64>,
    /// The newest checkpoints, oldest first.
    pub history: Vec<CheckpointRecord>,
}

/// Everything a process knows about its job, as of `now_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSnapshot {
    /// Where the job is.
    pub state: JobState,
    /// Jobs started in this process so far (this is the last).
    pub run: u64,
    /// Restarts by the supervisor before this process started (`EDDY_ATTEMPT`).
    pub restarts: u64,
    /// Wall clock, ms since the epoch.
    pub now_ms: u64,
    /// When the job started.
    pub started_ms: u64,
    /// When it ended.
    pub ended_ms: Option<u64>,
    /// Until the end, or until now.
    pub uptime_ms: u64,
    /// This process's index.
    pub process: usize,
    /// Processes of the job.
    pub processes: usize,
    /// Workers per process.
    pub workers: usize,
    /// Records read by this process's sources.
    pub records_read: u64,
    /// Records handed to this process's sinks.
    pub records_out: u64,
    /// Bad records sent to dead-letter outputs.
    pub dead_letters: u64,
    /// The minimum watermark of this process's sources; `None` once they all ended.
    pub source_watermark: Option<u64>,
    /// `now_ms - source_watermark` (meaningful when event times are wall-clock times).
    pub watermark_lag_ms: Option<u64>,
    /// Operators, in address order.
    pub operators: Vec<OperatorSnapshot>,
    /// Edges between them.
    pub edges: Vec<EdgeSnapshot>,
    /// Checkpoints.
    pub checkpoints: CheckpointSnapshot,
    /// The first error.
    pub error: Option<ErrorReport>,
    /// The job's configuration (workers, cluster, checkpoints, ...).
    pub config: serde_json::Value,
    /// Per process whose figures are included (on the leader of a multi-process job with
    /// checkpoints: every process that has reported; elsewhere: this one).
    pub process_figures: Vec<ProcessSnapshot>,
}

/// One process's share of a job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSnapshot {
    /// Its index.
    pub process: usize,
    /// Where it is.
    pub state: JobState,
    /// Its global worker indices.
    pub workers: Vec<usize>,
    /// Records its sources read.
    pub records_read: u64,
    /// Records its sinks received.
    pub records_out: u64,
    /// When its figures were taken (its clock).
    pub at_ms: u64,
}

impl JobSnapshot {
    fn process_figures(&self) -> ProcessSnapshot {
        let first = self.process * self.workers;
        ProcessSnapshot {
            process: self.process,
            state: self.state,
            workers: (first..first + self.workers).collect(),
            records_read: self.records_read,
            records_out: self.records_out,
            at_ms: self.now_ms,
        }
    }

    /// Adds another process's figures (a follower's, on the leader): its workers join the
    /// operators, its counters the totals; checkpoints stay the leader's.
    pub(super) fn merge(&mut self, peer: &JobSnapshot) {
        self.records_read += peer.records_read;
        self.records_out += peer.records_out;
        self.dead_letters += peer.dead_letters;
        self.source_watermark = match (self.source_watermark, peer.source_watermark) {
            (Some(own), Some(other)) => Some(own.min(other)),
            (own, other) => own.or(other),
        };
        self.watermark_lag_ms = self.source_watermark.map(|watermark| self.now_ms.saturating_sub(watermark));
        for operator in &peer.operators {
            match self.operators.iter_mut().find(|own| own.id == operator.id) {
                Some(own) => {
                    own.parallelism += operator.parallelism;
                    own.records_in += operator.records_in;
                    own.records_out += operator.records_out;
                    own.records_exchanged += operator.records_exchanged;
                    own.busy_ns += operator.busy_ns;
                    own.activations += operator.activations;
                    own.workers.extend(operator.workers.iter().cloned());
                    own.workers.sort_by_key(|worker| worker.worker);
                }
                None => self.operators.push(operator.clone()),
            }
        }
        for edge in &peer.edges {
            let same = |own: &&mut EdgeSnapshot| {
                (&own.source, own.source_port, &own.target, own.target_port)
                    == (&edge.source, edge.source_port, &edge.target, edge.target_port)
            };
            match self.edges.iter_mut().find(same) {
                Some(own) => {
                    own.records += edge.records;
                    if edge.exchange == "exchange" {
                        own.exchange = edge.exchange.clone();
                    }
                }
                None => self.edges.push(edge.clone()),
            }
        }
        if self.error.is_none() {
            self.error = peer.error.clone();
        }
        self.process_figures.push(peer.process_figures());
        self.process_figures.sort_by_key(|figures| figures.process);
    }
}

pub(super) struct CheckpointInputs<'a> {
    pub(super) started: u64,
    pub(super) completed: u64,
    pub(super) failed: u64,
    pub(super) duration_buckets: &'a [u64],
    pub(super) duration_sum_ms: u64,
    pub(super) size_buckets: &'a [u64],
    pub(super) size_sum_bytes: u64,
    pub(super) history: Vec<CheckpointRecord>,
}

pub(super) struct Inputs<'a> {
    pub(super) now: u64,
    pub(super) run_index: u64,
    pub(super) restarts: u64,
    pub(super) state: JobState,
    pub(super) started_ms: u64,
    pub(super) ended_ms: Option<u64>,
    pub(super) process: usize,
    pub(super) processes: usize,
    pub(super) workers_per_process: usize,
    pub(super) config: serde_json::Value,
    pub(super) uids: &'a [(Vec<usize>, String)],
    pub(super) error: Option<ErrorReport>,
    pub(super) gauges: ProcessGauges,
    pub(super) workers: &'a [WorkerFigures],
    pub(super) checkpoints: CheckpointInputs<'a>,
}

fn address(addr: &[usize]) -> String {
    addr.iter().map(usize::to_string).collect::<Vec<_>>().join(".")
}

fn buckets(counts: &[u64], bounds: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> =
        bounds.iter().chain(std::iter::once(&u64::MAX)).map(|&bound| (bound, 0)).collect();
    for (slot, count) in out.iter_mut().zip(counts) {
        slot.1 = *count;
    }
    out
}

pub(super) fn build(inputs: Inputs<'_>) -> JobSnapshot {
    let mut snapshot = build_own(inputs);
    snapshot.process_figures = vec![snapshot.process_figures()];
    snapshot
}

fn build_own(inputs: Inputs<'_>) -> JobSnapshot {
    let mut operators: Vec<OperatorSnapshot> = Vec::new();
    let mut by_addr: HashMap<Vec<usize>, usize> = HashMap::default();
    let mut edges: Vec<EdgeSnapshot> = Vec::new();
    let mut by_edge: HashMap<(Vec<usize>, usize, Vec<usize>, usize), usize> = HashMap::default();
    let mut workers: Vec<&WorkerFigures> = inputs.workers.iter().collect();
    workers.sort_by_key(|figures| figures.worker);
    let mut unfinished: Option<String> = None;
    for figures in workers {
        for operator in figures.operators.iter().filter(|operator| operator.addr.len() > 1) {
            let index = *by_addr.entry(operator.addr.clone()).or_insert_with(|| {
                operators.push(OperatorSnapshot {
                    id: address(&operator.addr),
                    name: operator.name.clone(),
                    uid: inputs
                        .uids
                        .iter()
                        .find(|(addr, _)| *addr == operator.addr)
                        .map(|(_, uid)| uid.clone()),
                    ..OperatorSnapshot::default()
                });
                operators.len() - 1
            });
            add(&mut operators[index], figures.worker, operator);
        }
        for channel in &figures.channels {
            add_edge(&mut edges, &mut by_edge, channel);
        }
        if let (None, Some(addr)) = (&unfinished, &figures.unfinished) {
            let name = figures.operators.iter().find(|operator| operator.addr == *addr);
            unfinished = Some(format!("{} ({})", name.map_or("?", |operator| &operator.name), address(addr)));
        }
    }
    operators.sort_by(|a, b| {
        let key = |id: &str| id.split('.').map(|part| part.parse::<usize>().unwrap_or(0)).collect::<Vec<_>>();
        key(&a.id).cmp(&key(&b.id))
    });
    let mut error = inputs.error;
    if let Some(error) = error.as_mut() {
        if error.operator.is_none() {
            error.operator = unfinished;
        }
    }
    let checkpoints = &inputs.checkpoints;
    // The control plane's figure (on a follower: the newest committed), else the history's.
    let last_completed_id = inputs.gauges.last_checkpoint.or_else(|| {
        let completed =
            checkpoints.history.iter().filter(|record| record.status == CheckpointStatus::Completed);
        completed.map(|record| record.id).max()
    });
    let last_completed_age_ms = last_completed_id.and_then(|id| {
        let record = checkpoints.history.iter().rev().find(|record| record.id == id)?;
        Some(inputs.now.saturating_sub(record.ended_ms?))
    });
    let ended_or_now = inputs.ended_ms.unwrap_or(inputs.now);
    JobSnapshot {
        state: inputs.state,
        run: inputs.run_index,
        restarts: inputs.restarts,
        now_ms: inputs.now,
        started_ms: inputs.started_ms,
        ended_ms: inputs.ended_ms,
        uptime_ms: ended_or_now.saturating_sub(inputs.started_ms),
        process: inputs.process,
        processes: inputs.processes,
        workers: inputs.workers_per_process,
        records_read: inputs.gauges.records_read,
        records_out: inputs.gauges.records_out,
        dead_letters: inputs.gauges.dead_letters,
        source_watermark: inputs.gauges.source_watermark,
        watermark_lag_ms: inputs
            .gauges
            .source_watermark
            .map(|watermark| inputs.now.saturating_sub(watermark)),
        operators,
        edges,
        checkpoints: CheckpointSnapshot {
            started: checkpoints.started,
            completed: checkpoints.completed,
            failed: checkpoints.failed,
            duration_buckets_ms: buckets(checkpoints.duration_buckets, &DURATION_BUCKETS_MS),
            duration_sum_ms: checkpoints.duration_sum_ms,
            size_buckets_bytes: buckets(checkpoints.size_buckets, &SIZE_BUCKETS_BYTES),
            size_sum_bytes: checkpoints.size_sum_bytes,
            last_completed_id,
            last_completed_age_ms,
            history: inputs.checkpoints.history,
        },
        error,
        config: inputs.config,
        process_figures: Vec::new(),
    }
}

fn add(snapshot: &mut OperatorSnapshot, worker: usize, figures: &OperatorFigures) {
    snapshot.parallelism += 1;
    snapshot.records_in += figures.records_in;
    snapshot.records_out += figures.records_out;
    snapshot.records_exchanged += figures.records_exchanged;
    snapshot.busy_ns += figures.busy_ns;
    snapshot.activations += figures.activations;
    snapshot.workers.push(WorkerSnapshot {
        worker,
        records_in: figures.records_in,
        records_out: figures.records_out,
        records_exchanged: figures.records_exchanged,
        busy_ns: figures.busy_ns,
        activations: figures.activations,
    });
}

fn add_edge(
    edges: &mut Vec<EdgeSnapshot>,
    by_edge: &mut HashMap<(Vec<usize>, usize, Vec<usize>, usize), usize>,
    channel: &ChannelFigures,
) {
    // Edges from or to a dataflow's own boundary connect nothing the graph shows.
    if channel.source.len() < 2 || channel.target.len() < 2 {
        return;
    }
    let key = (channel.source.clone(), channel.source_port, channel.target.clone(), channel.target_port);
    let index = *by_edge.entry(key).or_insert_with(|| {
        edges.push(EdgeSnapshot {
            source: address(&channel.source),
            source_port: channel.source_port,
            target: address(&channel.target),
            target_port: channel.target_port,
            exchange: "local".into(),
            records: 0,
        });
        edges.len() - 1
    });
    let edge = &mut edges[index];
    edge.records += channel.records;
    if channel.crossed {
        edge.exchange = "exchange".into();
    }
}
