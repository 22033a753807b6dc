//! Failures injected into in-process jobs, and the fail-then-restore loop of restore tests: a
//! checkpointed job fails mid-run (a worker panics after so many records), then runs again,
//! restored from its latest checkpoint, perhaps at another worker count, until the last
//! attempt finishes.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy_core::checkpoint::{CheckpointConfig, RestoreFrom};
use eddy_core::error::Result;
use eddy_core::prelude::{DataStream, Env, Job, JobConfig};
use eddy_core::record::Data;

/// Fails a job: the worker that sees the `after`-th record (counting from 0, over all workers
/// of the process) panics with "injected failure".
#[derive(Debug)]
pub struct InjectedFailure {
    after: u64,
    seen: AtomicU64,
}

impl InjectedFailure {
    /// A failure that never happens (for reference runs and the last attempt).
    pub fn never() -> Arc<Self> {
        Self::after(u64::MAX)
    }

    /// A failure at the `records`-th record.
    pub fn after(records: u64) -> Arc<Self> {
        Arc::new(InjectedFailure { after: records, seen: AtomicU64::new(0) })
    }

    /// Counts one record; panics at the `after`-th.
    pub fn count(&self) {
        if self.seen.fetch_add(1, Ordering::SeqCst) == self.after {
            panic!("injected failure");
        }
    }

    /// `stream` with every record counted by `failure` (a fused `inspect`).
    pub fn inject<'scope, T: Data>(
        failure: &Arc<Self>,
        stream: DataStream<'scope, T>,
    ) -> DataStream<'scope, T> {
        let failure = Arc::clone(failure);
        stream.inspect(move |_, _| failure.count())
    }
}

/// The job configuration of one attempt: `workers` workers, checkpoints every `interval` into
/// `checkpoints`, restored from the latest one when `restore`.
pub fn checkpointed(workers: usize, checkpoints: &Path, interval: Duration, restore: bool) -> JobConfig {
    let mut checkpoint = CheckpointConfig::new(checkpoints, interval);
    if restore {
        checkpoint = checkpoint.restore(RestoreFrom::Latest);
    }
    JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(workers) }
}

/// Runs a checkpointed job once per entry of `attempts` (its worker count), checkpointing every
/// `interval` into `checkpoints`; attempt `i` fails after `failures[i]` records (no entry: it
/// does not fail), and every attempt after the first restores from the latest checkpoint.
/// Asserts that only the last attempt succeeds; `after_attempt(i)` runs after each one (to check
/// what a failed attempt left behind).
pub fn fail_and_restore<B>(
    checkpoints: &Path,
    interval: Duration,
    attempts: &[usize],
    failures: &[u64],
    build: B,
    mut after_attempt: impl FnMut(usize),
) where
    B: Fn(&mut Env<'_>, &Arc<InjectedFailure>) -> Result<()> + Clone + Send + Sync + 'static,
{
    for (attempt, &workers) in attempts.iter().enumerate() {
        let failure = InjectedFailure::after(failures.get(attempt).copied().unwrap_or(u64::MAX));
        let build = build.clone();
        let config = checkpointed(workers, checkpoints, interval, attempt > 0);
        let result = Job::new(config).run(move |env| build(env, &failure));
        let last = attempt + 1 == attempts.len();
        assert_eq!(result.is_ok(), last, "attempt {attempt} at {workers} workers: {result:?}");
        after_attempt(attempt);
    }
}

/// Asserts that a failed attempt left what makes its restore start mid-run rather than from
/// scratch: a completed checkpoint in `checkpoints`, and some but not all of the `total` lines
/// of the output committed in `output`.
pub fn assert_failed_mid_run(checkpoints: &Path, output: &Path, total: usize) {
    let completed = eddy_core::checkpoint::store::list_checkpoints(checkpoints).unwrap();
    assert!(!completed.is_empty(), "a checkpoint completed before the failure");
    let committed = crate::output::committed_sorted(output).len();
    assert!(0 < committed && committed < total, "{committed} of {total} lines committed");
}

/// The operators of a completed checkpoint in `checkpoints`, as (uid, part kind).
pub fn checkpointed_operators(checkpoints: &Path) -> Vec<(String, String)> {
    let manifest = eddy_core::checkpoint::store::list_checkpoints(checkpoints)
        .unwrap()
        .into_iter()
        .find_map(|(_, path)| eddy_core::checkpoint::store::read_manifest(&path).ok())
        .expect("a completed checkpoint");
    manifest
        .operators
        .iter()
        .map(|operator| (operator.uid.clone(), operator.kind.as_str().to_owned()))
        .collect()
}
