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
//! use eddy::supervisor::{self, SupervisorConfig};
//!
//! let args = vec!["--checkpoint-dir".to_string(), "chk".to_string()];
//! let config = SupervisorConfig { processes: 3, workers: 4, ..SupervisorConfig::new("./my-job", args) };
//! let outcome = supervisor::run(&config)?;
//! eprintln!("finished after {} restarts", outcome.restarts);
//! # Ok::<(), eddy::supervisor::SupervisorError>(())
//! ```
//!
//! # Checkpointing
//!
//! The supervisor reads nothing of a checkpoint but its manifest's presence: on a restart, if
//! the job's `--checkpoint-dir` holds a complete checkpoint (one with a manifest), the job's
//! own `--restore` is replaced by `--restore latest`; otherwise the job restarts with the
//! arguments it was first given (so a job started from a savepoint restarts from it).

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpListener};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use eddy_core::checkpoint::store::{list_checkpoints, MANIFEST};
use eddy_core::time::{Clock, SystemClock};

/// How often the supervisor looks at its processes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long the supervisor waits, once the processes of an attempt are gone, for the rest of
/// their output. Output can outlive a process when it started children of its own that hold its
/// stdout or stderr; such stragglers keep writing to the log, but nobody waits for them.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How many of a process's last output lines a failure report quotes.
const TAIL_LINES: usize = 5;

/// The prefix of the progress lines job processes write to stderr, followed by one JSON object.
const PROGRESS_PREFIX: &str = "eddy: progress ";

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

    fn validate(&self) -> Result<(), SupervisorError> {
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

/// Fault injection: kills random processes of the job (SIGKILL), one per attempt at most, to
/// exercise recovery.
///
/// A chaos kill ends the attempt like a failure, and the job restarts after the usual back-off,
/// but the kill does not use up the restart budget: `restart_attempts` limits genuine failures.
#[derive(Clone, Debug)]
pub struct Chaos {
    /// How many processes to kill, in total over all attempts.
    pub kills: u32,
    /// The earliest a kill happens after an attempt starts.
    pub min_interval: Duration,
    /// The latest a kill happens after an attempt starts.
    pub max_interval: Duration,
    /// The seed of the random delays and victims: the same seed makes the same choices.
    pub seed: u64,
}

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
    fn of(status: ExitStatus) -> Self {
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
    /// The job failed after [`interrupt`] was called (Ctrl-C): it is not restarted.
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
    fn io(context: impl Into<String>, cause: io::Error) -> Self {
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

impl From<crate::Error> for SupervisorError {
    fn from(error: crate::Error) -> Self {
        match error {
            crate::Error::Io { context, cause } => SupervisorError::Io { context, cause },
            crate::Error::Config(message) => SupervisorError::Config(message),
            other => SupervisorError::Config(other.to_string()),
        }
    }
}

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
        let started_ms = clock.now_ms();
        let chaos_deadline = chaos.as_mut().and_then(|chaos| chaos.deadline(started_ms));
        let running = Attempt::start(config, attempt, &args, &hostfile, &logs)?;
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

/// Checks that every process of the hostfile runs on this machine: the supervisor starts
/// processes locally only.
fn check_local_hostfile(path: &Path, processes: usize) -> Result<(), SupervisorError> {
    // Parsed as the job parses it.
    let addresses = eddy_core::cluster::ClusterConfig::from_hostfile(path, processes, 0)?.addresses;
    for (process, address) in addresses.iter().enumerate() {
        let host = address.rsplit_once(':').map_or(address.as_str(), |(host, _)| host);
        if !is_local_host(host) {
            return Err(SupervisorError::Config(format!(
                "hostfile {} puts process {process} on `{host}`, but `eddy run` starts processes on \
                 this machine only; for other hosts use `scripts/launch.sh --hostfile {} --ssh`",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

fn is_local_host(host: &str) -> bool {
    let host = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Writes `<log_dir>/hostfile` with `processes` free ports of 127.0.0.1. The ports are free
/// when chosen; another program could take one before the job binds it, which fails the attempt.
fn write_local_hostfile(log_dir: &Path, processes: usize) -> Result<PathBuf, SupervisorError> {
    let context = || "choosing free ports on 127.0.0.1".to_string();
    // All listeners are open together, so the ports are distinct.
    let listeners = (0..processes)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|error| SupervisorError::io(context(), error))?;
    let mut text = String::new();
    for listener in &listeners {
        let port = listener.local_addr().map_err(|error| SupervisorError::io(context(), error))?.port();
        text.push_str(&format!("127.0.0.1:{port}\n"));
    }
    drop(listeners);
    let path = log_dir.join("hostfile");
    fs::write(&path, text)
        .map_err(|error| SupervisorError::io(format!("writing {}", path.display()), error))?;
    std::path::absolute(&path)
        .map_err(|error| SupervisorError::io(format!("resolving {}", path.display()), error))
}

/// The end of the job's options: the index of its first `--`, after which come positional
/// arguments that may look like flags.
fn options_end(args: &[String]) -> usize {
    args.iter().position(|arg| arg == "--").unwrap_or(args.len())
}

/// The value of the last `name VALUE` or `name=VALUE` among the job's options (an empty one
/// when `name` ends the options).
fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let options = &args[..options_end(args)];
    let mut value = None;
    for (index, arg) in options.iter().enumerate() {
        if arg == name {
            value = Some(options.get(index + 1).map_or("", String::as_str));
        } else if let Some(inline) = arg.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
            value = Some(inline);
        }
    }
    value
}

/// `args` with `flags` added at the end of the options.
fn with_flags(args: &[String], flags: impl IntoIterator<Item = String>) -> Vec<String> {
    let end = options_end(args);
    let mut result = args[..end].to_vec();
    result.extend(flags);
    result.extend_from_slice(&args[end..]);
    result
}

/// `args` without any `--restore X` or `--restore=X`, and with `--restore latest`.
fn with_restore_latest(args: &[String]) -> Vec<String> {
    let end = options_end(args);
    let mut kept = Vec::with_capacity(args.len() + 2);
    let mut skip_value = false;
    for arg in &args[..end] {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg == "--restore" {
            skip_value = true;
        } else if !arg.starts_with("--restore=") {
            kept.push(arg.clone());
        }
    }
    kept.extend_from_slice(&args[end..]);
    with_flags(&kept, ["--restore".to_string(), "latest".to_string()])
}

/// The job's arguments for a restart: with `--restore latest` when its `--checkpoint-dir`
/// holds a complete checkpoint, else as given.
fn restart_args(args: &[String]) -> Result<Vec<String>, SupervisorError> {
    let Some(dir) = flag_value(args, "--checkpoint-dir").filter(|dir| !dir.is_empty()) else {
        return Ok(args.to_vec());
    };
    let checkpoints = list_checkpoints(Path::new(dir))?;
    if checkpoints.iter().any(|(_, checkpoint)| checkpoint.join(MANIFEST).exists()) {
        Ok(with_restore_latest(args))
    } else {
        Ok(args.to_vec())
    }
}

/// A duration as the job's flags take it.
fn duration_flag(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// The latest progress line of one process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Progress {
    watermark: Option<u64>,
    records_in: u64,
    records_out: u64,
    checkpoint: Option<u64>,
}

/// Parses `eddy: progress {...}`; `None` for any other line.
fn parse_progress(line: &str) -> Option<Progress> {
    let json = line.strip_prefix(PROGRESS_PREFIX)?;
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let object = value.as_object()?;
    let number = |name: &str| object.get(name).and_then(serde_json::Value::as_u64);
    Some(Progress {
        watermark: number("watermark"),
        records_in: number("records_in").unwrap_or(0),
        records_out: number("records_out").unwrap_or(0),
        checkpoint: number("checkpoint"),
    })
}

/// The supervisor's progress summary. The watermark and checkpoint are the minimum over all
/// processes, so `none` until every process has reported one.
fn summary_line(attempt: u32, up: usize, progress: &[Option<Progress>], restarts: u32) -> String {
    let minimum = |field: fn(&Progress) -> Option<u64>| -> Option<u64> {
        progress
            .iter()
            .map(|progress| progress.as_ref().and_then(field))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()
    };
    let show = |value: Option<u64>| value.map_or_else(|| "none".to_string(), |value| value.to_string());
    let records_in: u64 = progress.iter().flatten().map(|progress| progress.records_in).sum();
    let records_out: u64 = progress.iter().flatten().map(|progress| progress.records_out).sum();
    format!(
        "eddy run: attempt {attempt}, {up}/{} processes up, watermark {} (min), records in {records_in}, \
         out {records_out}, checkpoint {} (min over processes), restarts {restarts}",
        progress.len(),
        show(minimum(|progress| progress.watermark)),
        show(minimum(|progress| progress.checkpoint)),
    )
}

/// A small seeded random number generator (SplitMix64): chaos needs reproducible choices, not
/// good randomness.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0); the modulo bias is irrelevant here.
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// Chaos as it goes: the kills left and the random choices.
struct ChaosState {
    random: SplitMix64,
    kills_left: u32,
    config: Chaos,
}

impl ChaosState {
    /// When to kill a process of an attempt started at `started_ms`, if kills are left.
    fn deadline(&mut self, started_ms: u64) -> Option<u64> {
        if self.kills_left == 0 {
            return None;
        }
        let min = self.config.min_interval.as_millis() as u64;
        let max = self.config.max_interval.as_millis() as u64;
        Some(started_ms + min + self.random.below(max - min + 1))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the output readers of an attempt learn.
struct Observed {
    /// The latest progress line of each process.
    progress: Vec<Option<Progress>>,
    /// The last lines of each process (progress lines left out).
    tails: Vec<VecDeque<String>>,
}

/// One process of an attempt.
struct Process {
    child: Child,
    pid: u32,
    status: Option<ExitStatus>,
}

/// The running processes of one attempt.
struct Attempt {
    number: u32,
    processes: Vec<Process>,
    observed: Arc<Mutex<Observed>>,
    /// Receives one message per output stream that reached its end.
    readers_done: mpsc::Receiver<()>,
    readers: usize,
}

impl Attempt {
    /// Starts every process; if one cannot be started, kills those that were.
    fn start(
        config: &SupervisorConfig,
        number: u32,
        args: &[String],
        hostfile: &Path,
        logs: &[Arc<Mutex<File>>],
    ) -> Result<Attempt, SupervisorError> {
        let observed = Arc::new(Mutex::new(Observed {
            progress: vec![None; config.processes],
            tails: vec![VecDeque::new(); config.processes],
        }));
        let (done_sender, readers_done) = mpsc::channel();
        let mut attempt = Attempt { number, processes: Vec::new(), observed, readers_done, readers: 0 };
        for (process, log) in logs.iter().enumerate() {
            let separator = format!("[p{process}] --- attempt {number} ---\n");
            if let Err(error) = lock(log).write_all(separator.as_bytes()) {
                attempt.kill_all();
                let path = log_path(&config.log_dir, process);
                return Err(SupervisorError::io(format!("writing {}", path.display()), error));
            }
            let mut flags = vec![
                "--processes".to_string(),
                config.processes.to_string(),
                "--process".into(),
                process.to_string(),
                "--workers".into(),
                config.workers.to_string(),
                "--hostfile".into(),
                hostfile.display().to_string(),
            ];
            if let Some(timeout) = config.connect_timeout {
                flags.extend(["--connect-timeout".into(), duration_flag(timeout)]);
            }
            flags.extend(["--progress-interval".into(), duration_flag(config.progress_interval)]);
            let spawned = Command::new(&config.program)
                .args(with_flags(args, flags))
                .envs(config.env.iter().map(|(name, value)| (name, value)))
                .env("EDDY_PROCESS", process.to_string())
                .env("EDDY_ATTEMPT", number.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(error) => {
                    attempt.kill_all();
                    let context = format!("starting process {process} ({})", config.program.display());
                    return Err(SupervisorError::io(context, error));
                }
            };
            let streams: [Option<Box<dyn Read + Send>>; 2] = [
                child.stdout.take().map(|out| Box::new(out) as Box<dyn Read + Send>),
                child.stderr.take().map(|err| Box::new(err) as Box<dyn Read + Send>),
            ];
            for stream in streams.into_iter().flatten() {
                let (log, observed, done) = (log.clone(), attempt.observed.clone(), done_sender.clone());
                thread::spawn(move || forward(stream, process, &log, &observed, done));
                attempt.readers += 1;
            }
            attempt.processes.push(Process { pid: child.id(), child, status: None });
        }
        Ok(attempt)
    }

    /// Watches the processes until all have exited with status 0 (`None`) or one has failed or
    /// been killed by chaos (its failure); then no process of the attempt is left running.
    fn watch(
        mut self,
        config: &SupervisorConfig,
        restarts: u32,
        mut chaos: Option<&mut ChaosState>,
        chaos_deadline: Option<u64>,
    ) -> Result<Option<Failure>, SupervisorError> {
        let clock = SystemClock;
        let interval_ms = config.progress_interval.as_millis() as u64;
        let mut next_summary = clock.now_ms() + interval_ms;
        loop {
            let mut failed = None;
            let mut wait_error = None;
            for (process, running) in self.processes.iter_mut().enumerate() {
                if running.status.is_some() {
                    continue;
                }
                match running.child.try_wait() {
                    Ok(None) => {}
                    Ok(Some(status)) => {
                        running.status = Some(status);
                        if !status.success() && failed.is_none() {
                            failed = Some((process, Termination::of(status), false));
                        }
                    }
                    Err(error) => {
                        wait_error =
                            Some((format!("waiting for process {process} (pid {})", running.pid), error));
                        break;
                    }
                }
            }
            if let Some((context, error)) = wait_error {
                self.kill_all();
                return Err(SupervisorError::io(context, error));
            }
            if failed.is_none() && self.processes.iter().all(|running| running.status.is_some()) {
                self.await_output();
                return Ok(None);
            }
            let now = clock.now_ms();
            if failed.is_none() && chaos_deadline.is_some_and(|deadline| now >= deadline) {
                if let Some(chaos) = chaos.as_deref_mut() {
                    failed = self.chaos_kill(chaos);
                }
            }
            if let Some((process, termination, by_chaos)) = failed {
                self.kill_all();
                self.await_output();
                let last_lines = lock(&self.observed).tails[process].iter().cloned().collect();
                let pid = self.processes[process].pid;
                return Ok(Some(Failure {
                    attempt: self.number,
                    process,
                    pid,
                    termination,
                    by_chaos,
                    last_lines,
                }));
            }
            if now >= next_summary {
                let up = self.processes.iter().filter(|running| running.status.is_none()).count();
                eprintln!("{}", summary_line(self.number, up, &lock(&self.observed).progress, restarts));
                next_summary = now + interval_ms;
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Kills a random running process; returns it and how it ended.
    fn chaos_kill(&mut self, chaos: &mut ChaosState) -> Option<(usize, Termination, bool)> {
        let running: Vec<usize> =
            (0..self.processes.len()).filter(|&process| self.processes[process].status.is_none()).collect();
        if running.is_empty() {
            return None;
        }
        let process = running[chaos.random.below(running.len() as u64) as usize];
        chaos.kills_left -= 1;
        let victim = &mut self.processes[process];
        eprintln!("eddy run: chaos: killed process {process} (pid {})", victim.pid);
        let _ = victim.child.kill();
        let termination = match victim.child.wait() {
            Ok(status) => {
                victim.status = Some(status);
                Termination::of(status)
            }
            Err(_) => Termination::Signaled(9),
        };
        Some((process, termination, true))
    }

    /// Kills (SIGKILL) every process still running and reaps it.
    fn kill_all(&mut self) {
        for running in &mut self.processes {
            if running.status.is_none() {
                // Killing fails only if the process has exited already; `wait` reaps it either way.
                let _ = running.child.kill();
                running.status = running.child.wait().ok();
            }
        }
    }

    /// Waits, at most [`OUTPUT_GRACE`], for the output readers to reach the end of their streams.
    fn await_output(&self) {
        let clock = SystemClock;
        let deadline = clock.now_ms() + OUTPUT_GRACE.as_millis() as u64;
        for _ in 0..self.readers {
            let left = Duration::from_millis(deadline.saturating_sub(clock.now_ms()));
            if self.readers_done.recv_timeout(left).is_err() {
                return;
            }
        }
    }
}

/// Copies one output stream of `process` to its log, line by line with the `[pI] ` prefix, and
/// notes its progress lines and last lines. Sends on `done` at the end of the stream.
fn forward(
    stream: Box<dyn Read + Send>,
    process: usize,
    log: &Mutex<File>,
    observed: &Mutex<Observed>,
    done: mpsc::Sender<()>,
) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    let mut log_failed = false;
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buffer);
        let line = text.trim_end_matches(['\n', '\r']);
        {
            let mut observed = lock(observed);
            match parse_progress(line) {
                Some(progress) => observed.progress[process] = Some(progress),
                None => {
                    let tail = &mut observed.tails[process];
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.to_owned());
                }
            }
        }
        if !log_failed {
            if let Err(error) = lock(log).write_all(format!("[p{process}] {line}\n").as_bytes()) {
                // Keep draining the pipe, so the process does not block on a full one.
                eprintln!("eddy run: writing the log of process {process}: {error}; its output is lost");
                log_failed = true;
            }
        }
    }
    let _ = done.send(());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

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

    #[test]
    fn flags_are_found_in_both_forms_and_not_after_a_double_dash() {
        let args = strings(&["--checkpoint-dir", "a", "--checkpoint-dir=b", "--", "--restore", "x"]);
        assert_eq!(flag_value(&args, "--checkpoint-dir"), Some("b"));
        assert_eq!(flag_value(&args, "--restore"), None);
        assert_eq!(flag_value(&strings(&["--checkpoint-dir"]), "--checkpoint-dir"), Some(""));
        assert_eq!(flag_value(&strings(&["--checkpoint-directory", "a"]), "--checkpoint-dir"), None);
    }

    #[test]
    fn restore_latest_replaces_every_restore_and_keeps_positionals() {
        let args = strings(&["--restore", "sp", "--rate", "5", "--restore=old", "--", "--restore", "input"]);
        assert_eq!(
            with_restore_latest(&args),
            strings(&["--rate", "5", "--restore", "latest", "--", "--restore", "input"])
        );
        assert_eq!(with_restore_latest(&strings(&["--restore"])), strings(&["--restore", "latest"]));
    }

    #[test]
    fn cluster_flags_go_before_a_double_dash() {
        let args = strings(&["--rate", "5", "--", "in.csv"]);
        assert_eq!(
            with_flags(&args, strings(&["--process", "1"])),
            strings(&["--rate", "5", "--process", "1", "--", "in.csv"])
        );
    }

    #[test]
    fn restarts_restore_the_latest_complete_checkpoint_only() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = dir.path().join("chk");
        let dir_arg = checkpoints.display().to_string();
        let args = strings(&["--checkpoint-dir", &dir_arg, "--restore", "/savepoints/sp-1"]);
        // No checkpoint directory yet, then only an incomplete checkpoint: restart as given.
        assert_eq!(restart_args(&args).unwrap(), args);
        fs::create_dir_all(checkpoints.join("chk-0000000001")).unwrap();
        assert_eq!(restart_args(&args).unwrap(), args);
        fs::write(checkpoints.join("chk-0000000001").join(MANIFEST), "{}").unwrap();
        assert_eq!(
            restart_args(&args).unwrap(),
            strings(&["--checkpoint-dir", &dir_arg, "--restore", "latest"])
        );
        let inline = [format!("--checkpoint-dir={dir_arg}")];
        assert_eq!(restart_args(&inline).unwrap(), [inline[0].clone(), "--restore".into(), "latest".into()]);
        // Without a checkpoint directory, nothing changes.
        let plain = strings(&["--restore", "/savepoints/sp-1"]);
        assert_eq!(restart_args(&plain).unwrap(), plain);
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

    #[test]
    fn progress_lines_parse_and_summarize() {
        let line = r#"eddy: progress {"process":1,"processes":2,"watermark":1700000012000,"records_in":12345,"records_out":678,"checkpoint":7}"#;
        let first = parse_progress(line).unwrap();
        assert_eq!(
            first,
            Progress {
                watermark: Some(1_700_000_012_000),
                records_in: 12345,
                records_out: 678,
                checkpoint: Some(7)
            }
        );
        let second = parse_progress(
            r#"eddy: progress {"process":0,"processes":2,"watermark":null,"records_in":5,"records_out":2,"checkpoint":null}"#,
        )
        .unwrap();
        assert_eq!(second.watermark, None);
        assert_eq!(parse_progress("eddy: progress {not json"), None);
        assert_eq!(parse_progress("progress {}"), None);

        assert_eq!(
            summary_line(
                2,
                2,
                &[Some(first), Some(Progress { watermark: Some(5), checkpoint: Some(9), ..first })],
                1
            ),
            "eddy run: attempt 2, 2/2 processes up, watermark 5 (min), records in 24690, out 1356, \
             checkpoint 7 (min over processes), restarts 1"
        );
        assert_eq!(
            summary_line(0, 1, &[Some(first), Some(second)], 0),
            "eddy run: attempt 0, 1/2 processes up, watermark none (min), records in 12350, out 680, \
             checkpoint none (min over processes), restarts 0"
        );
        assert!(summary_line(0, 2, &[Some(first), None], 0).contains("watermark none"));
    }

    #[test]
    fn hostfiles_must_name_local_hosts_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        fs::write(&path, "# local\n127.0.0.1:2101\n\nlocalhost:2102 # two\n[::1]:2103\nfar-away:2104\n")
            .unwrap();
        check_local_hostfile(&path, 3).unwrap();
        let error = check_local_hostfile(&path, 4).unwrap_err().to_string();
        assert!(error.contains("process 3 on `far-away`") && error.contains("scripts/launch.sh"), "{error}");
        assert!(check_local_hostfile(&path, 5).unwrap_err().to_string().contains("lists 4 addresses"));
        fs::write(&path, "127.0.0.1\n").unwrap();
        assert!(check_local_hostfile(&path, 1).unwrap_err().to_string().contains("is not `host:port`"));
    }

    #[test]
    fn chaos_choices_are_seeded() {
        let config = Chaos {
            kills: 3,
            min_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(20),
            seed: 42,
        };
        let deadlines = |seed| {
            let mut chaos = ChaosState {
                random: SplitMix64(seed),
                kills_left: 3,
                config: Chaos { seed, ..config.clone() },
            };
            (0..50).map(|_| chaos.deadline(1000).unwrap()).collect::<Vec<_>>()
        };
        let first = deadlines(42);
        assert_eq!(first, deadlines(42));
        assert_ne!(first, deadlines(43));
        assert!(first.iter().all(|deadline| (1010..=1020).contains(deadline)));
        assert!(first.contains(&1010) && first.contains(&1020));
    }

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
