//! Two-phase commit: what a participant staged for a checkpoint ([`Committable`]) and what makes
//! it visible once the checkpoint is complete ([`Committer`]).
//!
//! These live with the checkpoint protocol, not with sinks: any participant (a sink, or an
//! operator of another crate writing to an external system) may stage output, and the protocol
//! commits it only after the manifest of the checkpoint that holds it is durable.

use crate::error::Result;

/// What a participant staged for one checkpoint and must make visible once it is complete (for
/// files: which staged file to rename to what). Stored in the checkpoint as JSON.
pub type Committable = serde_json::Value;

/// Makes staged output visible. Shared by all workers of a process; called by the checkpoint
/// coordinator after a checkpoint's manifest is durable, and on restore.
pub trait Committer: Send + Sync {
    /// Makes the output described by `committables` visible. Must be idempotent: after a crash
    /// it is called again for the same committables.
    fn commit(&self, committables: &[Committable]) -> Result<()>;
    /// Called once on restore (or on a fresh start, with no committables) before anything is
    /// written: commits `committables` (they belong to the restored checkpoint, which is
    /// complete) and discards everything staged by runs other than `run_id` that they do not
    /// name.
    fn recover(&self, committables: &[Committable], run_id: &str) -> Result<()>;
}
