//! What the supervisor is asked to do: [`SupervisorConfig`] and its validation.

use std::path::PathBuf;
use std::time::Duration;

use super::chaos::Chaos;
use super::flags::flag_value;
use super::SupervisorError;

/// The flags the supervisor gives every process; the job's own arguments must not set them.
const CLUSTER_FLAGS: [&str; 6] =
    ["--processes", "--process", "--workers", "--hostfile", "--connect-timeout", "--progress-interval"];

/// How to run and supervise a multi-process job: the input of [`run`].
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// How many processes the job has (`--processes`).
    pub processes: usize,
    /// Worker threads per process (`--workers`).
    pub workers: usize,
    /// The job's binary.
    pub program: PathBuf,
    /// The job's own arguments. The cluster flags are added after them (before a `--`, if they
    /// hold one), so they must not set `--processes`, `--process`, `--workers`, `--hostfile`,
    /// `--connect-timeout` or `--progress-interval` themselves.
    pub args: Vec<String>,
    /// A hostfile with one `host:port` per process, in process order (blank lines and `#`
    /// comments skipped), every host local. `None`: each attempt runs on free ports of
    /// 127.0.0.1, written to `<log_dir>/hostfile`.
    pub hostfile: Option<PathBuf>,
    /// Where `process-<I>.log` (and the generated hostfile) go; created if missing. Logs are
    /// appended to, across attempts and runs.
    pub log_dir: PathBuf,
    /// How many times the job may be restarted after a failure; chaos kills do not count.
    pub restart_attempts: u32,
    /// The delay before the first restart; it doubles with each further restart, up to
    /// `max_restart_delay`, and starts over after an attempt that ran for `max_restart_delay`.
    pub restart_delay: Duration,
    /// The longest delay before a restart.
    pub max_restart_delay: Duration,
    /// Given to each process as `--connect-timeout`; `None`: the job's default.
    pub connect_timeout: Option<Duration>,
    /// Given to each process as `--progress-interval`; the supervisor prints its own summary
    /// as often.
    pub progress_interval: Duration,
    /// Fault injection: kill random processes to exercise recovery.
    pub chaos: Option<Chaos>,
    /// Extra environment variables for every process (such as `EDDY_FAILPOINT`).
    pub env: Vec<(String, String)>,
}

impl SupervisorConfig {
    /// One process with one worker running `program args`, logs in `./eddy-logs`, three restarts
    /// backing off from 1 s to 30 s, a progress summary every 5 s, no chaos.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        SupervisorConfig {
            processes: 1,
            workers: 1,
            program: program.into(),
            args,
            hostfile: None,
            log_dir: PathBuf::from("eddy-logs"),
            restart_attempts: 3,
            restart_delay: Duration::from_secs(1),
            max_restart_delay: Duration::from_secs(30),
            connect_timeout: None,
            progress_interval: Duration::from_secs(5),
            chaos: None,
            env: Vec::new(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), SupervisorError> {
        let invalid = |message: String| Err(SupervisorError::Config(message));
        if self.processes == 0 {
            return invalid("the job needs at least one process".into());
        }
        if self.workers == 0 {
            return invalid("each process needs at least one worker".into());
        }
        if self.program.as_os_str().is_empty() {
            return invalid("no program to run".into());
        }
        if self.progress_interval.is_zero() {
            return invalid("the progress interval must be more than zero".into());
        }
        if self.max_restart_delay < self.restart_delay {
            return invalid(format!(
                "the maximum restart delay ({:?}) is less than the restart delay ({:?})",
                self.max_restart_delay, self.restart_delay
            ));
        }
        if let Some(chaos) = &self.chaos {
            if chaos.max_interval < chaos.min_interval {
                return invalid(format!(
                    "the chaos interval {:?}..{:?} ends before it starts",
                    chaos.min_interval, chaos.max_interval
                ));
            }
        }
        if let Some(flag) = CLUSTER_FLAGS.iter().find(|flag| flag_value(&self.args, flag).is_some()) {
            return invalid(format!(
                "the job's arguments set `{flag}`, which the supervisor sets for every process \
                 (give it to `eddy run` instead)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn the_job_may_not_set_cluster_flags() {
        let mut config = SupervisorConfig::new("job", strings(&["--workers=4"]));
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("`--workers`"), "{error}");
        config.args = strings(&["--", "--workers"]);
        assert!(config.validate().is_ok());
        config.max_restart_delay = Duration::from_millis(1);
        assert!(config.validate().unwrap_err().to_string().contains("maximum restart delay"));
    }
}
