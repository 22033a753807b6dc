//! Command-line flags every eddy job accepts, for jobs that parse their arguments with clap:
//! `#[command(flatten)] run: eddy::cli::RunArgs` (this module, re-exported by the facade) adds the worker, cluster and checkpoint
//! flags, and [`RunArgs::job_config`] turns them into a [`JobConfig`].
//!
//! ```text
//! --workers W                      worker threads per process (default 1)
//! --processes N --process I        a multi-process job: N processes, this is process I
//! --hostfile FILE                  one host:port per line, in process order
//!                                  (default: 127.0.0.1:2101, 127.0.0.1:2102, ...)
//!                                  (under `srun` with several tasks: from the Slurm step,
//!                                  see `crate::slurm`)
//! --connect-timeout D              how long to wait for every peer at start-up (default 30s)
//! --progress-interval D            log a progress line every D (default: 5s with
//!                                  --processes > 1, otherwise off)
//! --checkpoint-dir DIR --checkpoint-interval D --retain-checkpoints K
//! --restore latest|PATH --allow-non-restored-state
//! --metrics-addr HOST:PORT         serve /metrics, the REST API and the dashboard there
//!                                  (PORT alone: loopback; default off)
//! ```
//!
//! The names are reserved: a job must not define flags with the same names. `eddy run` (the
//! supervisor) appends `--processes --process --workers --hostfile` and, on restarts,
//! `--restore latest`.

use std::path::PathBuf;
use std::time::Duration;

use eddy_core::checkpoint::{parse_duration, CheckpointConfig, RestoreFrom};
use eddy_core::cluster::{ClusterConfig, DEFAULT_CONNECT_TIMEOUT};
use eddy_core::error::{Error, Result};
use eddy_core::job::JobConfig;

/// The first port of a multi-process job on localhost without a hostfile (timely's default).
pub const DEFAULT_BASE_PORT: u16 = 2101;

/// Workers, cluster and checkpoint flags.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Worker threads per process.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Cluster flags.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Checkpoint flags.
    #[command(flatten)]
    pub checkpoints: CheckpointArgs,
    /// Serve Prometheus metrics (`/metrics`), the REST API (`/jobs`) and the web dashboard
    /// (`/`) on this address (`HOST:PORT`; a bare `PORT` listens on loopback only). In a
    /// multi-process job process `I` serves on `PORT + I` (port 0: each picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
}

impl RunArgs {
    /// The job configuration these flags describe (Ctrl-C stops the job cleanly).
    pub fn job_config(&self) -> Result<JobConfig> {
        if self.workers == 0 {
            return Err(Error::Config("--workers must be at least 1".into()));
        }
        let cluster = self.cluster.config()?;
        let progress_interval = self
            .cluster
            .progress_interval
            .or_else(|| cluster.as_ref().map(|_| Duration::from_secs(5)))
            .filter(|interval| !interval.is_zero());
        let metrics = match &self.metrics_addr {
            Some(addr) => {
                let process = cluster.as_ref().map_or(0, |cluster| cluster.process);
                Some(eddy_observe::serve(&eddy_observe::for_process(addr, process)?)?.metrics)
            }
            None => None,
        };
        Ok(JobConfig {
            checkpoint: self.checkpoints.config()?,
            cluster,
            progress_interval,
            stop_on_ctrl_c: true,
            metrics,
            ..JobConfig::with_workers(self.workers)
        })
    }
}

/// `--processes N --process I --hostfile FILE --connect-timeout D --progress-interval D`
#[derive(Clone, Debug, clap::Args)]
pub struct ClusterArgs {
    /// Processes of the job (each runs this program with its own --process).
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// This process's index, from 0 (process 0 leads checkpoints).
    #[arg(long, default_value_t = 0)]
    pub process: usize,
    /// A file with one `host:port` per line, in process order; default: 127.0.0.1 at ports
    /// 2101, 2102, ...
    #[arg(long, value_name = "FILE")]
    pub hostfile: Option<PathBuf>,
    /// How long to wait for every other process at start-up (e.g. 10s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Option<Duration>,
    /// Log a progress line (watermark, records in and out, last checkpoint) at this interval
    /// (0 turns it off; default 5s for multi-process jobs).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub progress_interval: Option<Duration>,
}

impl ClusterArgs {
    /// The cluster configuration, or `None` for a single-process job.
    pub fn config(&self) -> Result<Option<ClusterConfig>> {
        if self.processes == 0 {
            return Err(Error::Config("--processes must be at least 1".into()));
        }
        let config = if self.processes == 1 && self.process == 0 && self.hostfile.is_none() {
            // Under `srun` with several tasks, the step is the cluster (unless flags say otherwise).
            match crate::slurm::cluster_from_env(|name| std::env::var(name).ok())? {
                Some(config) => {
                    eprintln!(
                        "eddy: Slurm task {} of {}: peers {}",
                        config.process,
                        config.processes,
                        config.addresses.join(" ")
                    );
                    config
                }
                None => return Ok(None),
            }
        } else if self.processes == 1 {
            if self.process != 0 {
                return Err(Error::Config(format!("--process {} needs --processes above it", self.process)));
            }
            return Ok(None);
        } else {
            match &self.hostfile {
                Some(hostfile) => ClusterConfig::from_hostfile(hostfile, self.processes, self.process)?,
                None => ClusterConfig::localhost(self.processes, self.process, DEFAULT_BASE_PORT)?,
            }
        };
        // Links between the processes authenticate with the job's secret, if one is given
        // (`eddy run` and `scripts/launch.sh` generate one).
        Ok(Some(
            config
                .with_connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .with_secret_from_env()?,
        ))
    }
}

/// `--checkpoint-dir DIR --checkpoint-interval 1s [--restore latest|PATH] ...`
#[derive(Clone, Debug, clap::Args)]
pub struct CheckpointArgs {
    /// Take checkpoints into this directory (and listen for `eddy savepoint` / `eddy stop`
    /// on `DIR/control.sock`), or into an object store: `s3://bucket/prefix` (feature `s3`;
    /// credentials and endpoint from the `AWS_*` environment; the control socket is then in
    /// the temporary directory). In a multi-process job every process must see the same
    /// directory: a shared file system across machines, or S3.
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
    /// With `--restore latest`: when the newest complete checkpoint is corrupt and had begun
    /// committing output, restore an older one (or start fresh) anyway. That output is then
    /// produced again: this gives up exactly-once.
    #[arg(long)]
    pub allow_restore_fallback: bool,
}

impl CheckpointArgs {
    /// The checkpoint configuration, or `None` without `--checkpoint-dir`. Registers the
    /// storages of this build ([`crate::register_storages`]), so `s3://` paths open.
    pub fn config(&self) -> Result<Option<CheckpointConfig>> {
        crate::register_storages();
        let Some(dir) = &self.checkpoint_dir else {
            if self.restore.is_some() {
                return Err(Error::Config("--restore needs --checkpoint-dir".into()));
            }
            return Ok(None);
        };
        Ok(Some(CheckpointConfig {
            dir: dir.clone(),
            interval: Some(self.checkpoint_interval),
            retain: self.retain_checkpoints.max(1),
            restore: self.restore.clone(),
            allow_non_restored_state: self.allow_non_restored_state,
            allow_restore_fallback: self.allow_restore_fallback,
        }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Job {
        #[arg(long)]
        input: String,
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn cluster_flags_sit_beside_the_jobs_own() {
        let dir = tempfile::tempdir().unwrap();
        let hostfile = dir.path().join("hosts");
        std::fs::write(&hostfile, "127.0.0.1:4000\n127.0.0.1:4001\n127.0.0.1:4002\n").unwrap();
        let args =
            ["job", "--input", "in/", "--workers", "2", "--processes", "3", "--process", "1", "--hostfile"];
        let job = Job::parse_from(args.iter().copied().chain([hostfile.to_str().unwrap()]));
        assert_eq!(job.input, "in/");
        let config = job.run.job_config().unwrap();
        assert_eq!(config.workers, 2);
        let cluster = config.cluster.unwrap();
        assert_eq!((cluster.processes, cluster.process), (3, 1));
        assert_eq!(cluster.addresses[2], "127.0.0.1:4002");
        assert_eq!(config.progress_interval, Some(Duration::from_secs(5)));
    }

    #[test]
    fn single_process_defaults_and_bad_combinations() {
        let job = Job::parse_from(["job", "--input", "x"]);
        let config = job.run.job_config().unwrap();
        assert!(
            config.cluster.is_none() && config.checkpoint.is_none() && config.progress_interval.is_none()
        );
        let local = Job::parse_from(["job", "--input", "x", "--processes", "2", "--process", "1"]);
        assert_eq!(local.run.job_config().unwrap().cluster.unwrap().addresses[1], "127.0.0.1:2102");
        let error = |args: &[&str]| {
            let job = Job::parse_from(["job", "--input", "x"].iter().chain(args));
            job.run.job_config().err().map(|error| error.to_string()).unwrap_or_default()
        };
        assert!(error(&["--process", "1"]).contains("--process 1"));
        assert!(error(&["--processes", "2", "--process", "2"]).contains("out of range"));
        assert!(error(&["--restore", "latest"]).contains("--checkpoint-dir"));
    }
}
