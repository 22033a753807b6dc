//! The messages of the checkpoint control plane: requests from users ([`ControlRequest`],
//! [`ControlResponse`]), what reaches a process's coordinator ([`Message`]), and what
//! coordinators of different processes tell each other ([`Wire`]).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use super::part::Submission;
use super::store::{CheckpointKind, OperatorEntry};
use crate::error::{Error, Result};

/// A request to a running job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    /// Take a savepoint into `target` (default: `<checkpoint-dir>/savepoints/savepoint-<id>`);
    /// with `stop`, stop the job once it is complete (without draining: pending windows and
    /// timers stay in the savepoint).
    Savepoint {
        /// Where to write it; must not exist or be empty.
        #[serde(default)]
        target: Option<PathBuf>,
        /// Stop the job after the savepoint.
        #[serde(default)]
        stop: bool,
    },
    /// Report the last completed checkpoint.
    Status,
}

/// The answer to a [`ControlRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResponse {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The savepoint written, or the last completed checkpoint.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Why the request failed.
    #[serde(default)]
    pub error: Option<String>,
}

impl ControlResponse {
    /// A failed request's answer.
    pub(crate) fn failed(error: impl Into<String>) -> Self {
        ControlResponse { ok: false, path: None, error: Some(error.into()) }
    }
}

/// A handle to send control requests to a running job from the same process.
#[derive(Clone)]
pub struct JobControl {
    pub(crate) sender: mpsc::Sender<Message>,
}

impl JobControl {
    /// Sends a request and waits for its answer. Fails if the job is not running with
    /// checkpoints or ended first.
    pub fn request(&self, request: ControlRequest) -> Result<ControlResponse> {
        let (reply, answer) = mpsc::channel();
        self.sender
            .send(Message::Request(request, Reply::Channel(reply)))
            .map_err(|_| Error::Checkpoint("the job is not running with checkpoints".into()))?;
        answer.recv().map_err(|_| Error::Checkpoint("the job ended before answering".into()))
    }
}

/// Where an answer goes.
pub(crate) enum Reply {
    Channel(mpsc::Sender<ControlResponse>),
    Socket(UnixStream),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Reply::Channel(_) => "Reply::Channel",
            Reply::Socket(_) => "Reply::Socket",
        })
    }
}

impl Reply {
    pub(crate) fn send(self, response: ControlResponse) {
        match self {
            Reply::Channel(sender) => {
                let _ = sender.send(response);
            }
            Reply::Socket(mut stream) => {
                if let Ok(mut line) = serde_json::to_string(&response) {
                    line.push('\n');
                    let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(1)));
                    let _ = stream.write_all(line.as_bytes());
                }
            }
        }
    }
}

/// What reaches a process's coordinator.
pub(crate) enum Message {
    /// A participant's part.
    Part(Submission),
    /// A control request (savepoint, status).
    Request(ControlRequest, Reply),
    /// The workers are done; `succeeded` if the input ended (rather than failing or halting).
    Finish { succeeded: bool },
    /// A message from another process's coordinator, or the error that ended its link.
    Peer { process: usize, message: Result<Wire> },
}

/// A message between coordinators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Wire {
    /// Leader to followers at start-up: the run id (names of staged files), the checkpoint
    /// every process restores from, and whether the job checkpoints at all.
    Hello { run_id: String, restore: Option<PathBuf>, checkpoints: bool },
    /// Freeze claims and report the highest claimed time.
    Prepare { id: u64 },
    /// `claimed` is `None` when no checkpoint can start (the input ended or the job stops).
    Prepared { id: u64, claimed: Option<u64> },
    /// Checkpoint `id` is taken at logical time `time` into `dir`.
    Announce { id: u64, time: u64, kind: CheckpointKind, dir: PathBuf },
    /// Checkpoint `id` will not start; thaw claims.
    Cancel { id: u64 },
    /// Every part of this process for checkpoint `id` is durable.
    Done { id: u64, operators: Vec<OperatorEntry>, parts: usize, bytes: u64 },
    /// The manifest of `id` is durable: commit.
    Commit { id: u64 },
    /// Stop without draining (after a stop-with-savepoint).
    Halt,
    /// This process's workers are done; `succeeded` when the input ended.
    Finished { succeeded: bool },
    /// Write the final checkpoint `id` into `dir`.
    Final { id: u64, dir: PathBuf },
    /// Follower to leader, about once a second when the job serves metrics: this process's
    /// figures, so that the leader serves the whole job. Not part of the checkpoint protocol.
    Figures { figures: Box<crate::metrics::JobSnapshot> },
}
