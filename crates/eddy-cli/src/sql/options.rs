//! The job options of a SQL session: `SET 'key' = 'value'` in the shell or a script, on top of
//! the job flags `eddy sql` was started with (`--workers`, `--checkpoint-dir`, ...).
//!
//! Keys are Flink's names for the same settings:
//!
//! | key                                           | flag                          |
//! |-----------------------------------------------|-------------------------------|
//! | `parallelism.default`                         | `--workers`                   |
//! | `execution.checkpointing.interval`            | `--checkpoint-interval`       |
//! | `state.checkpoints.dir`                       | `--checkpoint-dir`            |
//! | `state.checkpoints.num-retained`              | `--retain-checkpoints`        |
//! | `execution.savepoint.path`                    | `--restore`                   |
//! | `execution.savepoint.ignore-unclaimed-state`  | `--allow-non-restored-state`  |
//!
//! `RESET` goes back to the flags' values.

use std::fmt;
use std::path::PathBuf;

use eddy_core::checkpoint::{parse_duration, RestoreFrom};
use eddy_core::error::Result;
use eddy_core::job::JobConfig;

use crate::args::RunArgs;

/// The keys `SET` takes, with what each means, in the order `SET;` lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("parallelism.default", "worker threads per process (--workers)"),
    (
        "execution.checkpointing.interval",
        "time between checkpoints, like 500ms or 10s (--checkpoint-interval)",
    ),
    ("state.checkpoints.dir", "take checkpoints into this directory; '' for none (--checkpoint-dir)"),
    ("state.checkpoints.num-retained", "complete checkpoints to keep (--retain-checkpoints)"),
    (
        "execution.savepoint.path",
        "restore from 'latest' or this checkpoint or savepoint; '' for none (--restore)",
    ),
    (
        "execution.savepoint.ignore-unclaimed-state",
        "'true': restore even if the checkpoint holds state no operator claims (--allow-non-restored-state)",
    ),
];

/// Why a `SET` or `RESET` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError(pub String);

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionError {}

/// The job flags as given on the command line and as changed by `SET` since.
#[derive(Clone, Debug)]
pub struct JobOptions {
    initial: RunArgs,
    current: RunArgs,
}

impl JobOptions {
    /// Options starting at the job flags `args`.
    pub fn new(args: RunArgs) -> JobOptions {
        JobOptions { initial: args.clone(), current: args }
    }

    /// The flags in force.
    pub fn args(&self) -> &RunArgs {
        &self.current
    }

    /// The configuration of a job that writes tables (`INSERT INTO`): every flag, with
    /// checkpoints and the cluster of a multi-process job.
    pub fn insert_config(&self) -> Result<JobConfig> {
        let mut config = self.current.job_config()?;
        // `eddy sql` stops the running job on Ctrl-C itself (see `sql::run`).
        config.stop_on_ctrl_c = false;
        Ok(config)
    }

    /// The configuration of a query whose result comes back to this process: its workers only,
    /// in this process, without checkpoints (the result lives in memory and cannot be restored).
    pub fn query_config(&self) -> JobConfig {
        JobConfig::with_workers(self.current.workers)
    }

    /// Whether this is process 0 of the job (the one that prints query results).
    pub fn is_first_process(&self) -> bool {
        self.current.cluster.process == 0
    }

    /// `SET 'key' = 'value'`.
    pub fn set(&mut self, key: &str, value: &str) -> std::result::Result<(), OptionError> {
        let bad = |reason: &str| OptionError(format!("SET '{key}' = '{value}': {reason}"));
        let checkpoints = &mut self.current.checkpoints;
        match key {
            "parallelism.default" => match value.trim().parse::<usize>() {
                Ok(workers) if workers > 0 => self.current.workers = workers,
                _ => return Err(bad("expected a number of workers, at least 1")),
            },
            "execution.checkpointing.interval" => {
                let interval = parse_duration(value.trim()).map_err(|error| bad(&error))?;
                if interval.is_zero() {
                    return Err(bad("the interval must be more than zero"));
                }
                checkpoints.checkpoint_interval = interval;
            }
            "state.checkpoints.dir" => {
                checkpoints.checkpoint_dir =
                    Some(value.trim()).filter(|dir| !dir.is_empty()).map(PathBuf::from)
            }
            "state.checkpoints.num-retained" => match value.trim().parse::<usize>() {
                Ok(retain) if retain > 0 => checkpoints.retain_checkpoints = retain,
                _ => return Err(bad("expected a number of checkpoints, at least 1")),
            },
            "execution.savepoint.path" => {
                checkpoints.restore = match value.trim() {
                    "" => None,
                    "latest" => Some(RestoreFrom::Latest),
                    path => Some(RestoreFrom::Path(PathBuf::from(path))),
                }
            }
            "execution.savepoint.ignore-unclaimed-state" => {
                checkpoints.allow_non_restored_state = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("expected 'true' or 'false'")),
                }
            }
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|(key, _)| *key).collect();
                return Err(OptionError(format!(
                    "unknown option '{key}'; eddy sql knows {} (HELP; says what each means)",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// `RESET 'key'` (`Some`) or `RESET` (`None`): back to the value of the flags.
    pub fn reset(&mut self, key: Option<&str>) -> std::result::Result<(), OptionError> {
        let Some(key) = key else {
            self.current = self.initial.clone();
            return Ok(());
        };
        let initial = JobOptions::new(self.initial.clone());
        let value = initial
            .value(key)
            .ok_or_else(|| OptionError(format!("RESET '{key}': unknown option; `SET;` lists them")))?;
        self.set(key, &value)
    }

    /// The value of a key as `SET;` shows it (`''` for none), or `None` for an unknown key.
    pub fn value(&self, key: &str) -> Option<String> {
        let args = &self.current;
        let checkpoints = &args.checkpoints;
        Some(match key {
            "parallelism.default" => args.workers.to_string(),
            "execution.checkpointing.interval" => format!("{:?}", checkpoints.checkpoint_interval),
            "state.checkpoints.dir" => {
                checkpoints.checkpoint_dir.as_ref().map(|dir| dir.display().to_string()).unwrap_or_default()
            }
            "state.checkpoints.num-retained" => checkpoints.retain_checkpoints.to_string(),
            "execution.savepoint.path" => match &checkpoints.restore {
                None => String::new(),
                Some(RestoreFrom::Latest) => "latest".to_owned(),
                Some(RestoreFrom::Path(path)) => path.display().to_string(),
            },
            "execution.savepoint.ignore-unclaimed-state" => checkpoints.allow_non_restored_state.to_string(),
            _ => return None,
        })
    }

    /// Every key with its value, as `SET;` lists them.
    pub fn list(&self) -> Vec<(&'static str, String)> {
        KEYS.iter().map(|(key, _)| (*key, self.value(key).unwrap_or_default())).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        run: RunArgs,
    }

    /// Job options from command-line `flags` (for the SQL modules' tests).
    pub(crate) fn options(flags: &[&str]) -> JobOptions {
        JobOptions::new(Flags::parse_from(std::iter::once("eddy").chain(flags.iter().copied())).run)
    }

    #[test]
    fn set_changes_the_flags_and_reset_restores_them() {
        let mut options = options(&["--workers", "2"]);
        options.set("parallelism.default", "4").unwrap();
        options.set("state.checkpoints.dir", "chk").unwrap();
        options.set("execution.checkpointing.interval", "250ms").unwrap();
        options.set("execution.savepoint.path", "latest").unwrap();
        let config = options.insert_config().unwrap();
        assert_eq!(config.workers, 4);
        let checkpoint = config.checkpoint.unwrap();
        assert_eq!(checkpoint.interval, Some(std::time::Duration::from_millis(250)));
        assert_eq!(checkpoint.restore, Some(RestoreFrom::Latest));
        assert!(!config.stop_on_ctrl_c);
        // Queries run without checkpoints.
        assert!(options.query_config().checkpoint.is_none());
        options.reset(Some("parallelism.default")).unwrap();
        assert_eq!(options.value("parallelism.default").unwrap(), "2");
        assert_eq!(options.value("state.checkpoints.dir").unwrap(), "chk");
        options.reset(None).unwrap();
        assert_eq!(options.value("state.checkpoints.dir").unwrap(), "");
        assert_eq!(options.list().len(), KEYS.len());
    }

    #[test]
    fn bad_keys_and_values_are_clear_errors() {
        let mut options = options(&[]);
        let error = options.set("parallelism.defualt", "2").unwrap_err().to_string();
        assert!(error.contains("unknown option 'parallelism.defualt'"), "{error}");
        assert!(error.contains("parallelism.default"), "{error}");
        let error = options.set("parallelism.default", "zero").unwrap_err().to_string();
        assert!(error.contains("at least 1"), "{error}");
        assert!(options.set("execution.checkpointing.interval", "soon").is_err());
        assert!(options.set("execution.savepoint.ignore-unclaimed-state", "yes").is_err());
        assert!(options.reset(Some("nope")).is_err());
        // A restore without a checkpoint directory fails when the job starts, as the flags do.
        options.set("execution.savepoint.path", "latest").unwrap();
        let error = options.insert_config().err().map(|error| error.to_string()).unwrap_or_default();
        assert!(error.contains("--checkpoint-dir"), "{error}");
    }
}
