//! Checkpoints, savepoints and restore: exactly-once state and output (design.md section 4).
//!
//! # The protocol
//! * **Trigger.** Every `interval` the coordinator (a thread of the job's process) picks a
//!   logical time `E` above every time any operator has claimed (see [`control`]) and
//!   announces it.
//! * **Snapshot.** Each participant contributes its *part* once it has handled everything
//!   before `E` and nothing at or after `E`: a keyed operator when its input frontier passes
//!   `E` (its state and timers, sorted by key hash), a source when each of its splits moves to
//!   a watermark `>= E` (the reader's position and the split's watermark state), a sink when
//!   its input frontier passes `E` (it stages everything before `E` and returns what to commit).
//!   Records at times `>= E` that a sink receives meanwhile wait in memory. Nothing stops: the
//!   operator serializes its state and moves on; the coordinator writes and fsyncs the parts.
//! * **Complete.** When every part of `E` is durable the coordinator writes the manifest
//!   atomically and create-only (see [`storage`]); only then do sinks commit (rename staged files).
//! * **Restore.** Every part is read and checked first. Keyed operators keep the keys whose
//!   hash range they own at the new parallelism; sources seek their splits; sinks commit what
//!   the checkpoint staged (idempotently) and delete what later, failed attempts staged.
//! * **End of input.** When all input has ended, a *final* checkpoint records that, and only
//!   after its manifest is durable is the last output committed: a crash in between restores
//!   the final checkpoint, which just re-commits.

pub mod commit;
pub(crate) mod control;
mod coordinator;
pub mod inspect;
pub mod keyed;
pub(crate) mod link;
pub(crate) mod lock;
pub(crate) mod messages;
pub mod part;
pub(crate) mod protocol;
pub(crate) mod restore;
pub(crate) mod socket;
pub mod storage;
pub mod store;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub use commit::{Committable, Committer};
pub(crate) use coordinator::{Coordinator, Link};
pub use messages::{ControlRequest, ControlResponse, JobControl};
pub use part::{PartKind, Pending};
pub use restore::RestoreFrom;
pub use socket::{send_request, CONTROL_SOCKET};
pub use store::{CheckpointKind, CheckpointStats, Manifest, OperatorEntry, PartEntry};

/// How a job checkpoints.
#[derive(Clone, Debug)]
pub struct CheckpointConfig {
    /// Where checkpoints are written (`chk-<id>` directories): a local directory, which also
    /// holds the running job's control socket and lock, or a URL of a registered storage such
    /// as `s3://bucket/prefix` (see [`storage`]; the socket and lock are then in
    /// [`storage::local_dir`]).
    pub dir: PathBuf,
    /// Processing time between checkpoints; `None` takes only savepoints and the final one.
    pub interval: Option<Duration>,
    /// How many complete checkpoints to keep (at least 1).
    pub retain: usize,
    /// Restore from a checkpoint or savepoint before starting.
    pub restore: Option<RestoreFrom>,
    /// Restore even when the checkpoint holds state of operators (uids) the job no longer has.
    pub allow_non_restored_state: bool,
    /// With [`RestoreFrom::Latest`]: when the newest complete checkpoint is corrupt, restore an
    /// older one (or start fresh) anyway. Output the corrupt checkpoint committed is then
    /// produced again, so this gives up exactly-once; without it such a restore is an error.
    pub allow_restore_fallback: bool,
}

impl CheckpointConfig {
    /// Checkpoints into `dir` every `interval`, keeping the last 3.
    pub fn new(dir: impl Into<PathBuf>, interval: Duration) -> Self {
        CheckpointConfig {
            dir: dir.into(),
            interval: Some(interval),
            retain: 3,
            restore: None,
            allow_non_restored_state: false,
            allow_restore_fallback: false,
        }
    }

    /// Restores from `from` before starting.
    pub fn restore(mut self, from: RestoreFrom) -> Self {
        self.restore = Some(from);
        self
    }
}

/// Parses a duration such as `500ms`, `1s`, `2m` or a plain number of milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "ms"),
    };
    let value: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration (like 500ms, 1s, 2m)"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("`{text}`: unknown unit `{unit}` (use ms, s or m)")),
    }
}

/// This process's index in a multi-process job (for [`failpoint`]'s process filter).
static PROCESS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub(crate) fn set_process(process: usize) {
    PROCESS.store(process, std::sync::atomic::Ordering::SeqCst);
}

/// Aborts the process at a named step of the checkpoint protocol when the environment
/// variable `EDDY_FAILPOINT` names it (`name`, or `name:N` for its N-th hit in this process),
/// for fault-injection tests. The points are `before-manifest` (parts durable, no manifest),
/// `after-manifest` (manifest durable, sinks not committed), `after-commit` and `restore`
/// (state loaded, sinks not yet recovered).
///
/// In a multi-process job, `EDDY_FAILPOINT_PROCESS=I` limits the failpoint to process `I`,
/// and `EDDY_FAILPOINT_ATTEMPT=K` to the attempt the supervisor numbers `EDDY_ATTEMPT=K`.
pub fn failpoint(name: &str) {
    if failpoint_hit(name) {
        eprintln!("eddy: failpoint `{name}` hit, aborting");
        std::process::abort();
    }
}

/// Whether the failpoint `name` (see [`failpoint`]) fires now.
pub fn failpoint_hit(name: &str) -> bool {
    static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let spec = SPEC.get_or_init(|| {
        let text = std::env::var("EDDY_FAILPOINT").ok()?;
        let wanted =
            |variable: &str, actual: String| std::env::var(variable).map_or(true, |wanted| wanted == actual);
        let process = PROCESS.load(std::sync::atomic::Ordering::SeqCst).to_string();
        let attempt = std::env::var("EDDY_ATTEMPT").unwrap_or_else(|_| "0".into());
        if !wanted("EDDY_FAILPOINT_PROCESS", process) || !wanted("EDDY_FAILPOINT_ATTEMPT", attempt) {
            return None;
        }
        let (point, nth) = match text.split_once(':') {
            Some((point, nth)) => (point.to_owned(), nth.parse().unwrap_or(1)),
            None => (text, 1),
        };
        Some((point, nth))
    });
    match spec {
        Some((point, nth)) => {
            point == name && HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == *nth
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("75"), Ok(Duration::from_millis(75)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
