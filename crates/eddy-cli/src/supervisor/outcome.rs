//! How a supervised job ended: [`Outcome`] when it finished, [`Failure`] and [`Termination`]
//! for each failed attempt, [`SupervisorError`] when the supervisor gave up.

use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;

/// What a job that finished went through.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// How many times the job was started (restarts + 1).
    pub attempts: u32,
    /// How many times the job was restarted, after failures and chaos kills.
    pub restarts: u32,
    /// How many processes chaos killed.
    pub chaos_kills: u32,
    /// Every attempt's failure, in order, chaos kills included.
    pub failures: Vec<Failure>,
}

/// How one attempt of the job failed: the first of its processes seen to fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The attempt, from 0 (the processes' `EDDY_ATTEMPT`).
    pub attempt: u32,
    /// The process that failed (its `--process`).
    pub process: usize,
    /// Its process id.
    pub pid: u32,
    /// How it ended.
    pub termination: Termination,
    /// Whether chaos killed it.
    pub by_chaos: bool,
    /// Its last lines of output in this attempt (progress lines left out), without the log's
    /// `[pI] ` prefix.
    pub last_lines: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} {}", self.process, self.termination)?;
        if self.by_chaos {
            write!(f, " (chaos)")?;
        }
        Ok(())
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it (9: SIGKILL, 6: SIGABRT, as a worker panic does).
    Signaled(i32),
}

impl Termination {
    pub(super) fn of(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(signal)) => Termination::Signaled(signal),
            // A status from `wait` is an exit or a signal; nothing else is reported.
            (None, None) => Termination::Exited(-1),
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Termination::Exited(code) => write!(f, "exited with status {code}"),
            Termination::Signaled(signal) => {
                write!(f, "killed by signal {signal}")?;
                match signal_name(signal) {
                    Some(name) => write!(f, " ({name})"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Why the supervisor gave up.
#[derive(Debug)]
pub enum SupervisorError {
    /// The configuration (or the hostfile) is invalid: a user error, nothing was started.
    Config(String),
    /// An I/O operation of the supervisor failed (starting a process, writing a log or hostfile).
    Io {
        /// What the supervisor was doing.
        context: String,
        /// The underlying error (part of the message, so not repeated as a source).
        cause: io::Error,
    },
    /// The job failed after [`interrupt`](super::interrupt) was called (Ctrl-C): it is not restarted.
    Interrupted {
        /// The failure after the interrupt.
        last_failure: Failure,
    },
    /// The job failed once more than the restart budget allows.
    BudgetExhausted {
        /// How many attempts failed, chaos kills not counted.
        failures: u32,
        /// How many chaos kills ended attempts besides.
        chaos_kills: u32,
        /// The restart budget (`restart_attempts`).
        budget: u32,
        /// The failure that exhausted it.
        last_failure: Failure,
        /// Where the processes' logs are.
        log_dir: PathBuf,
    },
}

impl SupervisorError {
    pub(super) fn io(context: impl Into<String>, cause: io::Error) -> Self {
        SupervisorError::Io { context: context.into(), cause }
    }
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::Config(message) => write!(f, "{message}"),
            SupervisorError::Interrupted { last_failure } => {
                write!(f, "interrupted; not restarting after: {last_failure}")
            }
            SupervisorError::Io { context, cause } => write!(f, "{context}: {cause}"),
            SupervisorError::BudgetExhausted { failures, chaos_kills, budget, last_failure, log_dir } => {
                write!(f, "job failed {failures} time{}", if *failures == 1 { "" } else { "s" })?;
                if *chaos_kills > 0 {
                    write!(f, " (and was killed {chaos_kills} times by chaos)")?;
                }
                write!(
                    f,
                    "; restart budget of {budget} exhausted; last failure: {last_failure}; logs in {}",
                    log_dir.display()
                )
            }
        }
    }
}

impl std::error::Error for SupervisorError {}

impl From<eddy_core::error::Error> for SupervisorError {
    fn from(error: eddy_core::error::Error) -> Self {
        use eddy_core::error::Error;
        match error {
            Error::Io { context, cause } => SupervisorError::Io { context, cause },
            Error::Config(message) => SupervisorError::Config(message),
            other => SupervisorError::Config(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_well() {
        let failure = Failure {
            attempt: 1,
            process: 2,
            pid: 77,
            termination: Termination::Signaled(9),
            by_chaos: false,
            last_lines: Vec::new(),
        };
        let error = SupervisorError::BudgetExhausted {
            failures: 4,
            chaos_kills: 0,
            budget: 3,
            last_failure: failure,
            log_dir: "logs".into(),
        };
        assert_eq!(
            error.to_string(),
            "job failed 4 times; restart budget of 3 exhausted; last failure: process 2 killed by signal 9 \
             (SIGKILL); logs in logs"
        );
        assert_eq!(Termination::Exited(1).to_string(), "exited with status 1");
    }
}
