//! `eddy`: the command-line tool for eddy jobs.
//!
//! * `eddy savepoint <checkpoint-dir>` takes a savepoint of the job running with that
//!   checkpoint directory, `eddy stop --savepoint <dir> <checkpoint-dir>` stops it after one,
//!   and `eddy status <checkpoint-dir>` names its last completed checkpoint. All three talk to
//!   the job over its control socket, `<checkpoint-dir>/control.sock`.
//! * `eddy inspect <dir>` verifies a checkpoint or savepoint (every part's size and checksum)
//!   and summarizes it; `--uid UID` dumps one operator's state as JSON lines.
//! * `eddy run --processes N -- <program> <args>` runs a multi-process job on this machine and
//!   restarts it from its latest checkpoint when a process fails (`eddy::supervisor`).
//! * `eddy kafka produce|consume` writes JSON lines from stdin to a topic and prints a topic's
//!   records as JSON lines (feature `kafka`, `eddy::kafka::tools`).
//!
//! Errors go to stderr as `eddy: <error>` and exit with status 1 (usage errors: status 2).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use eddy::core::checkpoint::store::{list_checkpoints, MANIFEST};
use eddy::core::checkpoint::{
    inspect, parse_duration, send_request, CheckpointKind, ControlRequest, ControlResponse, Manifest,
    PartKind, CONTROL_SOCKET,
};
use eddy::core::time::{Clock, SystemClock};
use eddy::supervisor::{self, Chaos, SupervisorConfig};
use eddy::Error;

#[derive(Parser)]
#[command(
    name = "eddy",
    version,
    about = "Run multi-process eddy jobs, control running ones, inspect their checkpoints, poke at Kafka topics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Produce to or consume from a Kafka topic (JSON lines on stdin / stdout).
    #[cfg(feature = "kafka")]
    #[command(subcommand)]
    Kafka(KafkaCommand),
    /// Take a savepoint of a running job; prints the savepoint's path.
    Savepoint {
        /// The job's checkpoint directory (its `--checkpoint-dir`, which holds `control.sock`).
        checkpoint_dir: PathBuf,
        /// Where to write the savepoint (must not exist, or be empty); default:
        /// `<checkpoint-dir>/savepoints/savepoint-<id>`.
        #[arg(long, value_name = "DIR")]
        target: Option<PathBuf>,
        /// How long to wait for the savepoint to complete (like 500ms, 30s, 2m).
        #[arg(long, default_value = "60s", value_parser = timeout)]
        timeout: Duration,
    },
    /// Stop a running job with a savepoint; prints the savepoint's path.
    ///
    /// The job takes a savepoint into DIR and exits once it is complete, without draining:
    /// pending windows and timers stay in the savepoint, and a job restored from it resumes
    /// where this one stopped. `--savepoint` is required; to drain a job instead (end the input,
    /// fire all timers), press Ctrl-C in the job's terminal.
    Stop {
        /// Where to write the savepoint (must not exist, or be empty).
        #[arg(long, value_name = "DIR", required = true)]
        savepoint: PathBuf,
        /// The job's checkpoint directory (its `--checkpoint-dir`, which holds `control.sock`).
        checkpoint_dir: PathBuf,
        /// How long to wait for the savepoint to complete (like 500ms, 30s, 2m).
        #[arg(long, default_value = "60s", value_parser = timeout)]
        timeout: Duration,
    },
    /// Print the last checkpoint a running job completed.
    Status {
        /// The job's checkpoint directory (its `--checkpoint-dir`, which holds `control.sock`).
        checkpoint_dir: PathBuf,
        /// How long to wait for the answer (like 500ms, 30s, 2m).
        #[arg(long, default_value = "10s", value_parser = timeout)]
        timeout: Duration,
    },
    /// Verify a checkpoint or savepoint and summarize it, or dump one operator's state.
    ///
    /// PATH is a checkpoint (`chk-NNNNNNNNNN`) or savepoint directory, or a checkpoint
    /// directory holding `chk-*` checkpoints: then the newest complete one is inspected.
    Inspect {
        /// A checkpoint or savepoint, or a checkpoint root directory.
        path: PathBuf,
        /// Dump the state of the operator with this uid as JSON lines: one line per key
        /// (keyed operators), per split (sources) or per staged file (sinks).
        #[arg(long, value_name = "UID")]
        uid: Option<String>,
        /// Print the summary as one JSON object instead of a table (`logical_time` is null
        /// when the checkpoint was taken at the end of the input).
        #[arg(long, conflicts_with = "uid")]
        json: bool,
    },
    /// Run a multi-process job on this machine, restarting it from its latest checkpoint when
    /// a process fails.
    ///
    /// Starts N processes of PROGRAM, each with ARGS followed by `--processes N --process I
    /// --workers W --hostfile FILE --progress-interval D`, and the environment variables
    /// EDDY_PROCESS=I and EDDY_ATTEMPT=k (k = 0, 1, ... for each restart). Their output goes to
    /// `<log-dir>/process-I.log`, each line prefixed `[pI] `. When a process fails, the others
    /// are killed and the job restarts after a back-off, with `--restore latest` once its
    /// `--checkpoint-dir` holds a complete checkpoint. Exits 0 when every process has exited 0,
    /// and 1 when the job failed more often than the restart budget allows.
    #[command(after_help = "Example: eddy run --processes 3 --workers 4 -- ./my-job --checkpoint-dir chk")]
    Run {
        /// How many processes the job has.
        #[arg(long, value_name = "N")]
        processes: usize,
        /// Worker threads per process.
        #[arg(long, value_name = "W", default_value_t = 1)]
        workers: usize,
        /// One `host:port` per process, in process order; every host must be this machine
        /// (for other hosts, use scripts/launch.sh). Default: free ports on 127.0.0.1, chosen
        /// anew for each attempt and written to `<log-dir>/hostfile`.
        #[arg(long, value_name = "FILE")]
        hostfile: Option<PathBuf>,
        /// How many times the job may be restarted after failures (chaos kills do not count).
        #[arg(long, value_name = "K", default_value_t = 3)]
        restart_attempts: u32,
        /// The delay before the first restart; it doubles with each further one.
        #[arg(long, value_name = "D", default_value = "1s", value_parser = parse_duration)]
        restart_delay: Duration,
        /// The longest delay before a restart.
        #[arg(long, value_name = "D", default_value = "30s", value_parser = parse_duration)]
        max_restart_delay: Duration,
        /// Where the processes' logs go (appended to).
        #[arg(long, value_name = "DIR", default_value = "eddy-logs")]
        log_dir: PathBuf,
        /// How long each process waits for its peers at start-up (default: the job's).
        #[arg(long, value_name = "D", value_parser = timeout)]
        connect_timeout: Option<Duration>,
        /// How often the processes report progress, and the supervisor prints a summary.
        #[arg(long, value_name = "D", default_value = "5s", value_parser = timeout)]
        progress_interval: Duration,
        /// Fault injection: kill this many random processes in all (SIGKILL), one per attempt.
        #[arg(long, value_name = "K")]
        chaos_kills: Option<u32>,
        /// When chaos strikes after each start: a random delay in MIN..MAX (or exactly D).
        #[arg(long, value_name = "MIN..MAX", default_value = "1s..10s", value_parser = interval, requires = "chaos_kills")]
        chaos_interval: (Duration, Duration),
        /// The seed of chaos's random choices (default: from the clock; it is printed).
        #[arg(long, value_name = "S", requires = "chaos_kills")]
        chaos_seed: Option<u64>,
        /// The job's program and its own arguments, after `--`.
        #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
        command: Vec<String>,
    },
}

/// `eddy kafka ...`
#[cfg(feature = "kafka")]
#[derive(Subcommand)]
enum KafkaCommand {
    /// Produce every line of standard input as one record (round-robin over the partitions),
    /// creating the topic if needed; prints the number of records produced to stderr.
    Produce {
        /// Bootstrap servers (`host:port`).
        #[arg(long)]
        brokers: String,
        /// The topic.
        #[arg(long)]
        topic: String,
        /// Partitions of the topic if it has to be created.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// Produce every record to this partition (default: round-robin).
        #[arg(long)]
        partition: Option<i32>,
    },
    /// Print records as JSON lines: topic, partition, offset, timestamp, key, value.
    Consume {
        /// Bootstrap servers (`host:port`).
        #[arg(long)]
        brokers: String,
        /// The topic.
        #[arg(long)]
        topic: String,
        /// Only records of committed transactions.
        #[arg(long)]
        read_committed: bool,
        /// Start at the earliest offset (default: only new records).
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this long without a record (like 5s); default: run until interrupted.
        #[arg(long, value_parser = parse_duration)]
        until_idle: Option<Duration>,
    },
}

/// A positive duration, like 500ms, 30s or 2m.
fn timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("the timeout must be more than zero".into()),
        timeout => Ok(timeout),
    }
}

/// A delay range `MIN..MAX` (like `500ms..5s`), or one duration `D` meaning `D..D`.
fn interval(text: &str) -> Result<(Duration, Duration), String> {
    let (min, max) = match text.split_once("..") {
        Some((min, max)) => (parse_duration(min)?, parse_duration(max)?),
        None => {
            let delay = parse_duration(text)?;
            (delay, delay)
        }
    };
    if max < min {
        return Err(format!("`{text}` ends before it starts"));
    }
    Ok((min, max))
}

/// Why a command failed.
enum Failure {
    /// Print `eddy: <message>` and exit 1.
    Message(String),
    /// Stdout was closed (as by `| head`): stop quietly.
    ClosedOutput,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Message(message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match &error {
            Error::Io { cause, .. } if cause.kind() == io::ErrorKind::BrokenPipe => Failure::ClosedOutput,
            _ => Failure::Message(error.to_string()),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::BrokenPipe => Failure::ClosedOutput,
            _ => Failure::Message(format!("writing to stdout: {error}")),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) | Err(Failure::ClosedOutput) => ExitCode::SUCCESS,
        Err(Failure::Message(message)) => {
            eprintln!("eddy: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        #[cfg(feature = "kafka")]
        Command::Kafka(KafkaCommand::Produce { brokers, topic, partitions, partition }) => {
            let count = eddy::kafka::tools::produce_lines(
                &brokers,
                &topic,
                partitions,
                partition,
                io::stdin().lock(),
            )?;
            eprintln!("eddy: produced {count} records to {topic}");
            Ok(())
        }
        #[cfg(feature = "kafka")]
        Command::Kafka(KafkaCommand::Consume {
            brokers,
            topic,
            read_committed,
            from_beginning,
            until_idle,
        }) => {
            let options = eddy::kafka::tools::ConsumeOptions { read_committed, from_beginning, until_idle };
            eddy::kafka::tools::consume(&brokers, &topic, &options, io::stdout().lock())?;
            Ok(())
        }
        Command::Savepoint { checkpoint_dir, target, timeout } => {
            let target = target.map(|target| absolute(&target)).transpose()?;
            savepoint(&checkpoint_dir, target, false, timeout)
        }
        Command::Stop { savepoint: target, checkpoint_dir, timeout } => {
            savepoint(&checkpoint_dir, Some(absolute(&target)?), true, timeout)
        }
        Command::Status { checkpoint_dir, timeout } => {
            let response = request(&checkpoint_dir, &ControlRequest::Status, timeout)?;
            let mut out = io::stdout().lock();
            match response.path {
                Some(path) => writeln!(out, "{}", path.display())?,
                None => writeln!(out, "no checkpoint completed yet")?,
            }
            Ok(())
        }
        Command::Inspect { path, uid, json } => {
            let checkpoint = resolve_checkpoint(&path)?;
            let manifest = inspect::verify(&checkpoint)?;
            match uid {
                Some(uid) => dump(&checkpoint, &manifest, &uid),
                None if json => print_json(&checkpoint, &manifest),
                None => print_table(&checkpoint, &manifest),
            }
        }
        Command::Run {
            processes,
            workers,
            hostfile,
            restart_attempts,
            restart_delay,
            max_restart_delay,
            log_dir,
            connect_timeout,
            progress_interval,
            chaos_kills,
            chaos_interval: (min_interval, max_interval),
            chaos_seed,
            command,
        } => {
            let (program, args) = command.split_first().ok_or_else(|| "no program to run".to_string())?;
            let chaos = chaos_kills.map(|kills| Chaos {
                kills,
                min_interval,
                max_interval,
                seed: chaos_seed.unwrap_or_else(|| SystemClock.now_ms()),
            });
            let config = SupervisorConfig {
                processes,
                workers,
                hostfile,
                log_dir,
                restart_attempts,
                restart_delay,
                max_restart_delay,
                connect_timeout,
                progress_interval,
                chaos,
                ..SupervisorConfig::new(program, args.to_vec())
            };
            // Ctrl-C reaches the job's processes too (they drain and exit); the supervisor
            // stays to collect their output and only stops restarting. A second one exits.
            let pressed = std::sync::atomic::AtomicBool::new(false);
            let _ = ctrlc::set_handler(move || {
                if pressed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    std::process::exit(130);
                }
                eprintln!("eddy run: interrupt: the job drains; no more restarts (Ctrl-C again to exit now)");
                supervisor::interrupt();
            });
            supervisor::run(&config).map_err(|error| Failure::Message(error.to_string()))?;
            Ok(())
        }
    }
}

/// The savepoint target as the job will see it: the job may run in another directory.
fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(|error| Failure::Message(format!("{}: {error}", path.display())))
}

fn savepoint(dir: &Path, target: Option<PathBuf>, stop: bool, timeout: Duration) -> Result<(), Failure> {
    let response = request(dir, &ControlRequest::Savepoint { target, stop }, timeout)?;
    let path = response
        .path
        .ok_or_else(|| "the job reported the savepoint complete without naming its path".to_string())?;
    writeln!(io::stdout().lock(), "{}", path.display())?;
    Ok(())
}

/// Sends a request to the job with checkpoint directory `dir`; a refusal is an error.
fn request(dir: &Path, request: &ControlRequest, timeout: Duration) -> Result<ControlResponse, Failure> {
    let socket = dir.join(CONTROL_SOCKET);
    let response = send_request(dir, request, timeout).map_err(|error| match &error {
        Error::Io { cause, .. } => match cause.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                format!("{error} (is a job running with checkpoint directory {}?)", dir.display())
            }
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
                "no answer on {} within {timeout:?} (raise --timeout{})",
                socket.display(),
                match request {
                    ControlRequest::Savepoint { .. } => "; the savepoint may still complete",
                    ControlRequest::Status => "",
                }
            ),
            _ => error.to_string(),
        },
        _ => error.to_string(),
    })?;
    if !response.ok {
        let reason = response.error.unwrap_or_else(|| "no reason given".into());
        let what = match request {
            ControlRequest::Savepoint { stop: true, .. } => "stop with savepoint",
            ControlRequest::Savepoint { .. } => "savepoint",
            ControlRequest::Status => "status",
        };
        return Err(Failure::Message(format!("{what} failed: {reason}")));
    }
    Ok(response)
}

/// `path` itself when it holds a manifest; otherwise, if it is a checkpoint root, its newest
/// complete checkpoint (announced on stderr).
fn resolve_checkpoint(path: &Path) -> Result<PathBuf, Failure> {
    if path.join(MANIFEST).exists() {
        return Ok(path.to_owned());
    }
    match std::fs::metadata(path) {
        Err(error) => return Err(Failure::Message(format!("{}: {error}", path.display()))),
        Ok(metadata) if !metadata.is_dir() => {
            return Err(Failure::Message(format!("{}: not a directory", path.display())))
        }
        Ok(_) => {}
    }
    let checkpoints = list_checkpoints(path)?;
    if checkpoints.is_empty() {
        return Err(Failure::Message(format!(
            "{}: not a checkpoint or savepoint (missing {MANIFEST}) and holds no chk-* checkpoints",
            path.display()
        )));
    }
    match checkpoints.iter().find(|(_, checkpoint)| checkpoint.join(MANIFEST).exists()) {
        Some((_, checkpoint)) => {
            eprintln!("eddy: inspecting {}, the newest complete checkpoint", checkpoint.display());
            Ok(checkpoint.clone())
        }
        None => Err(Failure::Message(format!(
            "{}: none of its {} checkpoints is complete (each is missing {MANIFEST})",
            path.display(),
            checkpoints.len()
        ))),
    }
}

fn dump(checkpoint: &Path, manifest: &Manifest, uid: &str) -> Result<(), Failure> {
    if !manifest.operators.iter().any(|operator| operator.uid == uid) {
        let uids: Vec<&str> = manifest.operators.iter().map(|operator| operator.uid.as_str()).collect();
        return Err(Failure::Message(format!(
            "{} has no operator `{uid}` (it has: {})",
            checkpoint.display(),
            uids.join(", ")
        )));
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    inspect::dump(checkpoint, uid, &mut out).map_err(|error| with_path(checkpoint, Failure::from(error)))?;
    out.flush()?;
    Ok(())
}

/// Names the checkpoint in an error that may not (part contents that do not parse).
fn with_path(checkpoint: &Path, failure: Failure) -> Failure {
    match failure {
        Failure::Message(message) if !message.contains(&*checkpoint.to_string_lossy()) => {
            Failure::Message(format!("{}: {message}", checkpoint.display()))
        }
        other => other,
    }
}

fn kind_name(kind: CheckpointKind) -> &'static str {
    match kind {
        CheckpointKind::Checkpoint => "checkpoint",
        CheckpointKind::Savepoint => "savepoint",
        CheckpointKind::Final => "final",
    }
}

fn part_kind_name(kind: &PartKind) -> &str {
    kind.as_str()
}

/// What a part's `entries` count for an operator of `kind`.
fn entries_unit(kind: &PartKind, count: u64) -> &'static str {
    match (kind, count == 1) {
        (PartKind::Keyed, true) => "key",
        (PartKind::Keyed, false) => "keys",
        (PartKind::Source, true) => "split",
        (PartKind::Source, false) => "splits",
        (PartKind::Sink, true) => "staged file",
        (PartKind::Sink, false) => "staged files",
        (PartKind::Custom(_), true) => "entry",
        (PartKind::Custom(_), false) => "entries",
    }
}

/// Per operator: (uid, kind, parts, bytes, entries).
fn operator_totals(manifest: &Manifest) -> Vec<(&str, PartKind, usize, u64, u64)> {
    manifest
        .operators
        .iter()
        .map(|operator| {
            let bytes = operator.parts.iter().map(|part| part.bytes).sum();
            let entries = operator.parts.iter().map(|part| part.entries).sum();
            (operator.uid.as_str(), operator.kind.clone(), operator.parts.len(), bytes, entries)
        })
        .collect()
}

fn print_json(checkpoint: &Path, manifest: &Manifest) -> Result<(), Failure> {
    let operators: Vec<serde_json::Value> = operator_totals(manifest)
        .into_iter()
        .map(|(uid, kind, parts, bytes, entries)| {
            serde_json::json!({
                "uid": uid,
                "kind": part_kind_name(&kind),
                "parts": parts,
                "bytes": bytes,
                "entries": entries,
            })
        })
        .collect();
    let summary = serde_json::json!({
        "path": checkpoint.display().to_string(),
        "id": manifest.id,
        "kind": kind_name(manifest.kind),
        "logical_time": if manifest.finished { None } else { Some(manifest.logical_time) },
        "finished": manifest.finished,
        "workers": manifest.workers,
        "format": manifest.format,
        "version": manifest.version,
        "stats": manifest.stats,
        "operators": operators,
    });
    writeln!(io::stdout().lock(), "{summary}")?;
    Ok(())
}

fn print_table(checkpoint: &Path, manifest: &Manifest) -> Result<(), Failure> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let time = if manifest.finished { "end of input".to_string() } else { manifest.logical_time.to_string() };
    let stats = &manifest.stats;
    let summary = [
        ("path", checkpoint.display().to_string()),
        ("id", manifest.id.to_string()),
        ("kind", kind_name(manifest.kind).to_string()),
        ("logical time", time),
        ("workers", manifest.workers.to_string()),
        ("format", format!("{} version {}", manifest.format, manifest.version)),
        ("duration", format!("{} ms (snapshot {} ms)", stats.duration_ms, stats.snapshot_ms)),
        ("size", format!("{} bytes", stats.bytes)),
    ];
    for (name, value) in summary {
        writeln!(out, "{name:<13} {value}")?;
    }
    writeln!(out)?;
    if manifest.operators.is_empty() {
        writeln!(out, "(no operators)")?;
        out.flush()?;
        return Ok(());
    }
    let mut rows = vec![["UID".to_string(), "KIND".into(), "PARTS".into(), "BYTES".into(), "ENTRIES".into()]];
    for (uid, kind, parts, bytes, entries) in operator_totals(manifest) {
        rows.push([
            uid.to_string(),
            part_kind_name(&kind).into(),
            parts.to_string(),
            bytes.to_string(),
            format!("{entries} {}", entries_unit(&kind, entries)),
        ]);
    }
    let mut widths = [0; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &rows {
        let [uid, kind, parts, bytes, entries] = row;
        let [w0, w1, w2, w3, _] = widths;
        writeln!(out, "{uid:<w0$}  {kind:<w1$}  {parts:>w2$}  {bytes:>w3$}  {entries}")?;
    }
    out.flush()?;
    Ok(())
}
