//! Command-line flags for checkpoints, shared by example jobs (`#[command(flatten)]`).

use std::path::PathBuf;
use std::time::Duration;

use eddy::core::checkpoint::{parse_duration, CheckpointConfig, RestoreFrom};

/// `--checkpoint-dir DIR --checkpoint-interval 1s [--restore latest|PATH] ...`
#[derive(Clone, Debug, clap::Args)]
pub struct CheckpointArgs {
    /// Take checkpoints into this directory (and listen for `eddy savepoint` / `eddy stop`
    /// on `DIR/control.sock`).
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Processing time between checkpoints (e.g. 500ms, 1s, 2m).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub checkpoint_interval: Duration,
    /// Complete checkpoints to keep.
    #[arg(long, default_value_t = 3)]
    pub retain_checkpoints: usize,
    /// Restore before starting: `latest` (the newest intact checkpoint in --checkpoint-dir,
    /// or a fresh start if there is none) or the path of a checkpoint or savepoint.
    #[arg(long)]
    pub restore: Option<RestoreFrom>,
    /// Restore even if the checkpoint holds state for operators (uids) this job no longer has.
    #[arg(long)]
    pub allow_non_restored_state: bool,
}

impl CheckpointArgs {
    /// The checkpoint configuration, or `None` without `--checkpoint-dir`.
    pub fn config(&self) -> anyhow::Result<Option<CheckpointConfig>> {
        let Some(dir) = &self.checkpoint_dir else {
            if self.restore.is_some() {
                anyhow::bail!("--restore needs --checkpoint-dir");
            }
            return Ok(None);
        };
        Ok(Some(CheckpointConfig {
            dir: dir.clone(),
            interval: Some(self.checkpoint_interval),
            retain: self.retain_checkpoints.max(1),
            restore: self.restore.clone(),
            allow_non_restored_state: self.allow_non_restored_state,
        }))
    }
}
