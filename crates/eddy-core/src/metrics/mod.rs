//! What a running job shows about itself: per-operator and per-worker figures, checkpoints,
//! the first error, the job's configuration. [`JobMetrics`] is the handle; a server (the
//! `eddy-observe` crate) reads [`JobMetrics::snapshot`] to serve Prometheus text, a REST API and
//! the dashboard.
//!
//! Counting costs nothing per record. Operator figures come from timely's own event log
//! (messages sent and received with their record counts, operator schedules), which timely
//! records per batch and hands, buffered, to a recorder on the worker's thread
//! ([`recorder`]); the recorder sums them in plain worker-local counters and publishes a copy
//! into its worker's slot at most every [`PUBLISH_EVERY_MS`] and when the worker ends. A read
//! aggregates the slots. Without metrics (`JobConfig::metrics` is `None`) nothing is logged.
//!
//! This module sits with the foundations: it uses no stream, operator or checkpoint module; the
//! job feeds it (gauges, checkpoint events, errors) through its methods.

pub(crate) mod recorder;
mod snapshot;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use snapshot::{
    CheckpointRecord, CheckpointSnapshot, CheckpointStatus, EdgeSnapshot, ErrorReport, JobSnapshot, JobState,
    OperatorSnapshot, ProcessSnapshot, WorkerSnapshot,
};

use crate::time::Clock;

/// How often (at most) a worker publishes its figures, in milliseconds of timely's log time.
pub const PUBLISH_EVERY_MS: u64 = 100;

/// Checkpoints kept in the history (older ones are dropped; the counters keep counting).
pub const CHECKPOINT_HISTORY: usize = 200;

/// Upper bounds of the checkpoint duration histogram's buckets, in milliseconds.
pub const DURATION_BUCKETS_MS: [u64; 10] = [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 60_000];

/// Upper bounds of the checkpoint size histogram's buckets, in bytes.
pub const SIZE_BUCKETS_BYTES: [u64; 8] =
    [1 << 10, 16 << 10, 256 << 10, 1 << 20, 16 << 20, 256 << 20, 1 << 30, 16 << 30];

/// Process-wide figures the job reads on demand (not counted here).
#[derive(Clone, Debug, Default)]
pub struct ProcessGauges {
    /// Records read by this process's sources (dead letters excluded).
    pub records_read: u64,
    /// Records handed to this process's sinks.
    pub records_out: u64,
    /// Bad records sent to dead-letter outputs.
    pub dead_letters: u64,
    /// The minimum watermark over this process's source instances; `None` once all ended.
    pub source_watermark: Option<u64>,
    /// The newest checkpoint completed (or committed, on a follower) in this process.
    pub last_checkpoint: Option<u64>,
}

/// The figures of one operator on one worker, as its worker last published them.
#[derive(Clone, Debug, Default)]
pub(crate) struct OperatorFigures {
    /// Timely's operator address (the same on every worker).
    pub(crate) addr: Vec<usize>,
    pub(crate) name: String,
    pub(crate) records_in: u64,
    pub(crate) records_out: u64,
    /// Records this operator sent to other workers.
    pub(crate) records_exchanged: u64,
    pub(crate) busy_ns: u64,
    pub(crate) activations: u64,
}

/// An edge between two operators, as one worker saw it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChannelFigures {
    pub(crate) source: Vec<usize>,
    pub(crate) source_port: usize,
    pub(crate) target: Vec<usize>,
    pub(crate) target_port: usize,
    pub(crate) records: u64,
    /// Whether records were seen crossing to another worker (an exchange).
    pub(crate) crossed: bool,
}

/// What one worker published.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkerFigures {
    pub(crate) worker: usize,
    pub(crate) operators: Vec<OperatorFigures>,
    pub(crate) channels: Vec<ChannelFigures>,
    /// The operator that was running when the worker stopped without finishing its schedule
    /// (a panic), by address.
    pub(crate) unfinished: Option<Vec<usize>>,
}

#[derive(Default)]
struct Checkpoints {
    started: u64,
    completed: u64,
    failed: u64,
    /// Counts per bucket of [`DURATION_BUCKETS_MS`] (plus +Inf), and the sum.
    duration_buckets: Vec<u64>,
    duration_sum_ms: u64,
    size_buckets: Vec<u64>,
    size_sum_bytes: u64,
    history: VecDeque<CheckpointRecord>,
}

#[derive(Default)]
struct Run {
    state: JobState,
    started_ms: u64,
    ended_ms: Option<u64>,
    process: usize,
    processes: usize,
    workers: usize,
    config: serde_json::Value,
    /// Stateful operators' uids by operator address.
    uids: Vec<(Vec<usize>, String)>,
    error: Option<ErrorReport>,
}

/// The figures of one job in this process, shared by its workers, its coordinator and a server.
pub struct JobMetrics {
    clock: Arc<dyn Clock>,
    run: Mutex<Run>,
    workers: Mutex<Vec<Arc<Mutex<WorkerFigures>>>>,
    checkpoints: Mutex<Checkpoints>,
    gauges: Mutex<Option<Box<dyn Fn() -> ProcessGauges + Send + Sync>>>,
    /// Runs of a job in this process (`eddy run` restarts start new processes; this counts
    /// jobs run in one process, as the SQL shell does).
    runs: AtomicU64,
    /// Restarts by the supervisor before this process (its `EDDY_ATTEMPT`).
    restarts: u64,
    /// On the leader: the followers' latest figures, by process.
    peers: Mutex<Vec<JobSnapshot>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl JobMetrics {
    /// Figures for the jobs this process runs, timed by `clock` (wall-clock milliseconds).
    pub fn new(clock: Arc<dyn Clock>) -> Arc<JobMetrics> {
        let restarts =
            std::env::var("EDDY_ATTEMPT").ok().and_then(|attempt| attempt.parse().ok()).unwrap_or(0);
        Arc::new(JobMetrics {
            clock,
            run: Mutex::default(),
            workers: Mutex::default(),
            checkpoints: Mutex::default(),
            gauges: Mutex::new(None),
            runs: AtomicU64::new(0),
            restarts,
            peers: Mutex::default(),
        })
    }

    /// A job starts in this process: forgets the previous run's figures.
    pub(crate) fn begin(
        &self,
        process: usize,
        processes: usize,
        workers: usize,
        config: serde_json::Value,
        gauges: Box<dyn Fn() -> ProcessGauges + Send + Sync>,
    ) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        *lock(&self.run) = Run {
            state: JobState::Running,
            started_ms: self.clock.now_ms(),
            process,
            processes,
            workers,
            config,
            ..Run::default()
        };
        lock(&self.workers).clear();
        lock(&self.peers).clear();
        *lock(&self.checkpoints) = Checkpoints::default();
        *lock(&self.gauges) = Some(gauges);
    }

    /// The job ended: `Ok` finished (or stopped), `Err` failed with that message.
    pub(crate) fn end(&self, outcome: std::result::Result<(), String>) {
        let ended = self.clock.now_ms();
        let gauges = lock(&self.gauges).as_ref().map(|gauges| gauges());
        // The gauges read the job's shared state; keep the last values once it is gone.
        if let Some(last) = gauges {
            *lock(&self.gauges) = Some(Box::new(move || last.clone()));
        }
        let mut run = lock(&self.run);
        run.ended_ms = Some(ended);
        match outcome {
            Ok(()) => run.state = JobState::Finished,
            Err(message) => {
                run.state = JobState::Failed;
                if run.error.is_none() {
                    run.error = Some(ErrorReport { message, worker: None, operator: None, at_ms: ended });
                }
            }
        }
    }

    /// Reports the first error (later ones are ignored), with the worker it happened on.
    pub(crate) fn report_error(&self, message: String, worker: Option<usize>) {
        let at_ms = self.clock.now_ms();
        let mut run = lock(&self.run);
        if run.error.is_none() {
            run.error = Some(ErrorReport { message, worker, operator: None, at_ms });
        }
    }

    /// A slot for worker `worker`'s figures.
    pub(crate) fn worker_slot(&self, worker: usize) -> Arc<Mutex<WorkerFigures>> {
        let slot = Arc::new(Mutex::new(WorkerFigures { worker, ..WorkerFigures::default() }));
        lock(&self.workers).push(Arc::clone(&slot));
        slot
    }

    /// The uids of a worker's stateful operators, by operator address (worker 0's suffice:
    /// every worker builds the same dataflow).
    pub(crate) fn set_uids(&self, uids: Vec<(Vec<usize>, String)>) {
        lock(&self.run).uids = uids;
    }

    /// Checkpoint `id` at logical time `time` was announced.
    pub(crate) fn checkpoint_started(&self, id: u64, time: u64) {
        let now = self.clock.now_ms();
        let mut checkpoints = lock(&self.checkpoints);
        checkpoints.started += 1;
        checkpoints.history.push_back(CheckpointRecord {
            id,
            logical_time: time,
            started_ms: now,
            ended_ms: None,
            duration_ms: None,
            bytes: None,
            status: CheckpointStatus::InProgress,
            kind: None,
        });
        while checkpoints.history.len() > CHECKPOINT_HISTORY {
            checkpoints.history.pop_front();
        }
    }

    /// The manifest of checkpoint `id` was written (the leader's view of its cost).
    pub(crate) fn checkpoint_written(&self, id: u64, kind: &str, duration_ms: u64, bytes: u64) {
        if !lock(&self.checkpoints).history.iter().any(|record| record.id == id) {
            // The final checkpoint is written without an announcement.
            self.checkpoint_started(id, u64::MAX);
        }
        let mut checkpoints = lock(&self.checkpoints);
        if let Some(record) = checkpoints.history.iter_mut().rev().find(|record| record.id == id) {
            record.duration_ms = Some(duration_ms);
            record.bytes = Some(bytes);
            record.kind = Some(kind.to_owned());
        }
    }

    /// Checkpoint `id` completed (`true`) or was abandoned (`false`).
    pub(crate) fn checkpoint_ended(&self, id: u64, completed: bool) {
        let now = self.clock.now_ms();
        let mut checkpoints = lock(&self.checkpoints);
        let checkpoints = &mut *checkpoints;
        let Some(record) = checkpoints.history.iter_mut().rev().find(|record| record.id == id) else {
            return;
        };
        if record.status != CheckpointStatus::InProgress {
            return;
        }
        record.ended_ms = Some(now);
        if !completed {
            record.status = CheckpointStatus::Failed;
            checkpoints.failed += 1;
            return;
        }
        record.status = CheckpointStatus::Completed;
        checkpoints.completed += 1;
        let duration = record.duration_ms.unwrap_or(now.saturating_sub(record.started_ms));
        record.duration_ms = Some(duration);
        bucket(&mut checkpoints.duration_buckets, &DURATION_BUCKETS_MS, duration);
        checkpoints.duration_sum_ms += duration;
        if let Some(bytes) = record.bytes {
            bucket(&mut checkpoints.size_buckets, &SIZE_BUCKETS_BYTES, bytes);
            checkpoints.size_sum_bytes += bytes;
        }
    }

    /// A follower's figures reached the leader.
    pub(crate) fn set_peer(&self, figures: JobSnapshot) {
        let mut peers = lock(&self.peers);
        peers.retain(|peer| peer.process != figures.process);
        peers.push(figures);
    }

    /// Every figure, aggregated over the workers (on a multi-process job's leader, over every
    /// process that has reported), as of now.
    pub fn snapshot(&self) -> JobSnapshot {
        let mut snapshot = self.own_snapshot();
        for peer in lock(&self.peers).iter() {
            snapshot.merge(peer);
        }
        snapshot
    }

    /// This process's figures only (what a follower sends its leader).
    pub fn own_snapshot(&self) -> JobSnapshot {
        let now = self.clock.now_ms();
        let workers: Vec<WorkerFigures> = lock(&self.workers).iter().map(|slot| lock(slot).clone()).collect();
        let gauges = lock(&self.gauges).as_ref().map(|gauges| gauges()).unwrap_or_default();
        let run = lock(&self.run);
        let checkpoints = lock(&self.checkpoints);
        snapshot::build(snapshot::Inputs {
            now,
            run_index: self.runs.load(Ordering::SeqCst),
            restarts: self.restarts,
            state: run.state,
            started_ms: run.started_ms,
            ended_ms: run.ended_ms,
            process: run.process,
            processes: run.processes,
            workers_per_process: run.workers,
            config: run.config.clone(),
            uids: &run.uids,
            error: run.error.clone(),
            gauges,
            workers: &workers,
            checkpoints: snapshot::CheckpointInputs {
                started: checkpoints.started,
                completed: checkpoints.completed,
                failed: checkpoints.failed,
                duration_buckets: &checkpoints.duration_buckets,
                duration_sum_ms: checkpoints.duration_sum_ms,
                size_buckets: &checkpoints.size_buckets,
                size_sum_bytes: checkpoints.size_sum_bytes,
                history: checkpoints.history.iter().cloned().collect(),
            },
        })
    }
}

/// Counts `value` in the first bucket whose bound is at least `value` (the last is +Inf).
fn bucket(counts: &mut Vec<u64>, bounds: &[u64], value: u64) {
    counts.resize(bounds.len() + 1, 0);
    let index = bounds.iter().position(|&bound| value <= bound).unwrap_or(bounds.len());
    counts[index] += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    #[test]
    fn checkpoints_are_counted_and_bucketed() {
        let clock = Arc::new(ManualClock::new(1_000));
        let metrics = JobMetrics::new(Arc::clone(&clock) as Arc<dyn Clock>);
        metrics.begin(0, 1, 2, serde_json::json!({}), Box::new(ProcessGauges::default));
        metrics.checkpoint_started(1, 10);
        metrics.checkpoint_written(1, "checkpoint", 70, 2_000);
        clock.advance(80);
        metrics.checkpoint_ended(1, true);
        metrics.checkpoint_started(2, 20);
        metrics.checkpoint_ended(2, false);
        // A second end of the same checkpoint changes nothing.
        metrics.checkpoint_ended(2, true);
        let snapshot = metrics.snapshot();
        assert_eq!((snapshot.checkpoints.started, snapshot.checkpoints.completed), (2, 1));
        assert_eq!(snapshot.checkpoints.failed, 1);
        assert_eq!(snapshot.checkpoints.duration_buckets_ms[2], (100, 1));
        assert_eq!(snapshot.checkpoints.size_buckets_bytes[1], (16 << 10, 1));
        assert_eq!(snapshot.checkpoints.last_completed_id, Some(1));
        let statuses: Vec<_> = snapshot.checkpoints.history.iter().map(|record| record.status).collect();
        assert_eq!(statuses, [CheckpointStatus::Completed, CheckpointStatus::Failed]);
    }

    #[test]
    fn the_first_error_is_kept() {
        let metrics = JobMetrics::new(Arc::new(ManualClock::new(5)));
        metrics.begin(0, 1, 1, serde_json::json!({}), Box::new(ProcessGauges::default));
        metrics.report_error("first".into(), Some(0));
        metrics.report_error("second".into(), Some(1));
        metrics.end(Err("the job's error".into()));
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.state, JobState::Failed);
        let error = snapshot.error.unwrap();
        assert_eq!((error.message.as_str(), error.worker), ("first", Some(0)));
    }
}
