//! The job supervisor behind `eddy run`: starts every process of a multi-process job on this
//! machine, writes their output to per-process logs, reports the job's progress, and restarts
//! the whole job from its latest checkpoint when a process fails.
//!
//! A timely job is fail-stop: when one process dies the others cannot go on (their connections
//! to it are gone), so the supervisor kills them all and starts every process anew, with
//! `--restore latest` once the job has completed a checkpoint. Restarts back off exponentially
//! and are limited by a budget.
//!
//! ```no_run
//! use eddy_cli::supervisor::{self, SupervisorConfig};
//!
//! let args = vec!["--checkpoint-dir".to_string(), "chk".to_string()];
//! let config = SupervisorConfig { processes: 3, workers: 4, ..SupervisorConfig::new("./my-job", args) };
//! let outcome = supervisor::run(&config)?;
//! eprintln!("finished after {} restarts", outcome.restarts);
//! # Ok::<(), eddy_cli::supervisor::SupervisorError>(())
//! ```
//!
//! # Checkpointing
//!
//! The supervisor reads nothing of a checkpoint but its manifest's presence: on a restart, if
//! the job's `--checkpoint-dir` holds a complete checkpoint (one with a manifest), the job's
//! own `--restore` is replaced by `--restore latest`; otherwise the job restarts with the
//! arguments it was first given (so a job started from a savepoint restarts from it).
//!
//! # Code map
//!
//! `config.rs` (what to run), `attempt.rs` (one attempt's processes, their logs and
//! the watch over them), `flags.rs` (editing the job's arguments), `hosts.rs` (hostfiles),
//! `progress.rs` (progress lines and the summary), `chaos.rs` (fault injection) and
//! `outcome.rs` (how it ended); this file holds the restart loop.

mod attempt;
mod chaos;
mod config;
mod flags;
mod hosts;
mod outcome;
mod progress;

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use eddy_core::time::{Clock, SystemClock};

use self::attempt::Attempt;
pub use self::chaos::Chaos;
use self::chaos::{ChaosState, SplitMix64};
pub use self::config::SupervisorConfig;
use self::flags::restart_args;
use self::hosts::{check_local_hostfile, cluster_secret, write_local_hostfile};
pub use self::outcome::{Failure, Outcome, SupervisorError, Termination};

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells [`run`] not to restart the job any more (`eddy run` calls it on Ctrl-C, which the
/// job's processes receive too and answer by draining). `run` still waits for the processes
/// and returns `Ok` if they all finish cleanly.
pub fn interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Runs the job until it finishes, restarting it after failures as long as the budget allows.
///
/// Each attempt starts `config.processes` processes of `config.program` with the job's
/// arguments followed by `--processes N --process I --workers W --hostfile F
/// [--connect-timeout D] --progress-interval D`, and the environment variables `EDDY_PROCESS=I`
/// and `EDDY_ATTEMPT=k` (k from 0). Their stdout and stderr go, line by line with a `[pI] `
/// prefix, to `<log_dir>/process-I.log`; their stdin is empty.
///
/// The job has finished when every process has exited with status 0. When one exits otherwise
/// (or is killed), the supervisor reports it on stderr, kills the others (SIGKILL) and, after a
/// back-off, restarts them all, from the latest complete checkpoint if there is one (see the
/// module docs). Every progress interval it prints a summary of the processes' progress lines
/// to stderr.
///
/// # Errors
///
/// [`SupervisorError::BudgetExhausted`] when the job fails more than `restart_attempts` times;
/// [`SupervisorError::Config`] for an invalid configuration, and [`SupervisorError::Io`] when a
/// process cannot be started (neither is retried).
pub fn run(config: &SupervisorConfig) -> Result<Outcome, SupervisorError> {
    config.validate()?;
    let hostfile = match &config.hostfile {
        Some(path) => {
            check_local_hostfile(path, config.processes)?;
            Some(std::path::absolute(path).map_err(|error| {
                SupervisorError::io(format!("resolving hostfile {}", path.display()), error)
            })?)
        }
        None => None,
    };
    fs::create_dir_all(&config.log_dir).map_err(|error| {
        SupervisorError::io(format!("creating log directory {}", config.log_dir.display()), error)
    })?;
    let logs = (0..config.processes)
        .map(|process| {
            let path = log_path(&config.log_dir, process);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map(|file| Arc::new(Mutex::new(file)))
                .map_err(|error| SupervisorError::io(format!("opening log {}", path.display()), error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut chaos = config.chaos.as_ref().filter(|chaos| chaos.kills > 0).map(|chaos| {
        eprintln!(
            "eddy run: chaos: {} kill{}, {:?}..{:?} after each start, seed {}",
            chaos.kills,
            if chaos.kills == 1 { "" } else { "s" },
            chaos.min_interval,
            chaos.max_interval,
            chaos.seed
        );
        ChaosState { random: SplitMix64(chaos.seed), kills_left: chaos.kills, config: chaos.clone() }
    });

    let clock = SystemClock;
    let mut outcome = Outcome::default();
    let mut failures = 0;
    let mut consecutive_restarts = 0;
    loop {
        let attempt = outcome.attempts;
        outcome.attempts += 1;
        let args = if attempt == 0 { config.args.clone() } else { restart_args(&config.args)? };
        let hostfile = match &hostfile {
            Some(path) => path.clone(),
            None => write_local_hostfile(&config.log_dir, config.processes)?,
        };
        let secret = cluster_secret(&config.log_dir, &config.env)?;
        let started_ms = clock.now_ms();
        let chaos_deadline = chaos.as_mut().and_then(|chaos| chaos.deadline(started_ms));
        let running = Attempt::start(config, attempt, &args, &hostfile, &secret, &logs)?;
        let failure = match running.watch(config, outcome.restarts, chaos.as_mut(), chaos_deadline)? {
            None => {
                eprintln!(
                    "eddy run: job finished (attempt {attempt}, {} restart{})",
                    outcome.restarts,
                    if outcome.restarts == 1 { "" } else { "s" }
                );
                return Ok(outcome);
            }
            Some(failure) => failure,
        };
        report(&failure, &config.log_dir);
        outcome.failures.push(failure.clone());
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SupervisorError::Interrupted { last_failure: failure });
        }
        if failure.by_chaos {
            outcome.chaos_kills += 1;
        } else {
            failures += 1;
            if failures > config.restart_attempts {
                return Err(SupervisorError::BudgetExhausted {
                    failures,
                    chaos_kills: outcome.chaos_kills,
                    budget: config.restart_attempts,
                    last_failure: failure,
                    log_dir: config.log_dir.clone(),
                });
            }
        }
        let ran_ms = clock.now_ms().saturating_sub(started_ms);
        if u128::from(ran_ms) >= config.max_restart_delay.as_millis() {
            consecutive_restarts = 0;
        }
        let delay = backoff_delay(config.restart_delay, config.max_restart_delay, consecutive_restarts);
        consecutive_restarts += 1;
        outcome.restarts += 1;
        eprintln!(
            "eddy run: restarting in {delay:?} (restart {}, {} of {} allowed failures used)",
            outcome.restarts, failures, config.restart_attempts
        );
        thread::sleep(delay);
    }
}

/// The delay before a restart that follows `consecutive` restarts: `base` doubled that many
/// times, at most `max`.
fn backoff_delay(base: Duration, max: Duration, consecutive: u32) -> Duration {
    let factor = 1u32.checked_shl(consecutive).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// Prints a failure and the last lines its process wrote.
fn report(failure: &Failure, log_dir: &Path) {
    let log = log_path(log_dir, failure.process);
    let mut message = format!(
        "eddy run: attempt {}: process {} (pid {}) {}",
        failure.attempt, failure.process, failure.pid, failure.termination
    );
    if failure.by_chaos {
        message.push_str(" by chaos");
    }
    if failure.last_lines.is_empty() {
        message.push_str(&format!("; no output (log: {})", log.display()));
    } else {
        message.push_str(&format!("; its last lines ({}):", log.display()));
        for line in &failure.last_lines {
            message.push_str(&format!("\n    [p{}] {line}", failure.process));
        }
    }
    eprintln!("{message}");
}

fn log_path(log_dir: &Path, process: usize) -> PathBuf {
    log_dir.join(format!("process-{process}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let (base, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<u128> = (0..6).map(|n| backoff_delay(base, max, n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_delay(base, max, 40), max);
        assert_eq!(
            backoff_delay(Duration::from_secs(1), Duration::MAX, 100),
            Duration::from_secs(u64::from(u32::MAX))
        );
    }
}
