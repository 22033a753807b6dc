//! `eddy`: the command-line tool for eddy jobs.
//!
//! * `eddy savepoint <checkpoint-dir>` takes a savepoint of the job running with that
//!   checkpoint directory, `eddy stop --savepoint <dir> <checkpoint-dir>` stops it after one,
//!   and `eddy status <checkpoint-dir>` names its last completed checkpoint. All three talk to
//!   the job over its control socket, `<checkpoint-dir>/control.sock`.
//! * `eddy inspect <dir>` verifies a checkpoint or savepoint (every part's size and checksum)
//!   and summarizes it; `--uid UID` dumps one operator's state as JSON lines.
//! * `eddy run --processes N -- <program> <args>` runs a multi-process job on this machine and
//!   restarts it from its latest checkpoint when a process fails (`eddy_cli::supervisor`).
//! * `eddy sql` is an interactive SQL shell, and `eddy sql -f FILE` runs a SQL script with all
//!   its `INSERT INTO` statements as one job (feature `sql`, `eddy_cli::sql`).
//! * `eddy kafka produce|consume` writes JSON lines from stdin to a topic and prints a topic's
//!   records as JSON lines (feature `kafka`, `eddy_kafka::tools`).
//!
//! Errors go to stderr as `eddy: <error>` and exit with status 1 (usage errors: status 2).
//! This file holds the command line and the dispatch; `control.rs` and `inspect.rs` the
//! commands that talk to a running job and read checkpoints, `sql.rs` the SQL shell.

mod control;
mod inspect;
#[cfg(feature = "sql")]
mod sql;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use eddy_cli::supervisor::{self, Chaos, SupervisorConfig};
use eddy_core::checkpoint::parse_duration;
use eddy_core::error::Error;
use eddy_core::time::{Clock, SystemClock};

#[derive(Parser)]
#[command(
    name = "eddy",
    version,
    about = "Run SQL and multi-process eddy jobs, control running ones, inspect their checkpoints, poke at Kafka topics"
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
    /// The SQL shell, or with -f FILE, run a SQL script as a job.
    ///
    /// Without -f: an interactive shell (line editing, history in $EDDY_SQL_HISTORY or
    /// ~/.local/share/eddy/sql_history). Statements end with `;`; HELP; lists the commands.
    /// With -f: the script's statements in order; bounded queries print tables, and all its
    /// INSERT INTO statements run together as one job with the job flags, so `eddy run` can
    /// supervise it like any job program.
    #[cfg(feature = "sql")]
    #[command(after_help = "Examples:\n  eddy sql\n  eddy sql -f examples/sql/orders.sql\n  \
        eddy run --processes 2 -- eddy sql -f job.sql --checkpoint-dir chk")]
    Sql(sql::SqlArgs),
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
        /// The job's checkpoint directory (its `--checkpoint-dir`, which holds `control.sock`):
        /// prints the last completed checkpoint.
        #[arg(required_unless_present = "metrics_addr")]
        checkpoint_dir: Option<PathBuf>,
        /// Instead, the job's `--metrics-addr` (HOST:PORT, or PORT on loopback): prints its
        /// REST overview (state, processes, records, watermark, checkpoint, operators).
        #[arg(long, value_name = "HOST:PORT", conflicts_with = "checkpoint_dir")]
        metrics_addr: Option<String>,
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
pub(crate) enum Failure {
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
    eddy_cli::register_storages();
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
        #[cfg(feature = "sql")]
        Command::Sql(args) => sql::sql(args),
        #[cfg(feature = "kafka")]
        Command::Kafka(KafkaCommand::Produce { brokers, topic, partitions, partition }) => {
            let count = eddy_kafka::tools::produce_lines(
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
            let options = eddy_kafka::tools::ConsumeOptions { read_committed, from_beginning, until_idle };
            eddy_kafka::tools::consume(&brokers, &topic, &options, io::stdout().lock())?;
            Ok(())
        }
        Command::Savepoint { checkpoint_dir, target, timeout } => {
            let target = target.map(|target| control::absolute(&target)).transpose()?;
            control::savepoint(&checkpoint_dir, target, false, timeout)
        }
        Command::Stop { savepoint: target, checkpoint_dir, timeout } => {
            control::savepoint(&checkpoint_dir, Some(control::absolute(&target)?), true, timeout)
        }
        Command::Status { checkpoint_dir, metrics_addr, timeout } => match (checkpoint_dir, metrics_addr) {
            (_, Some(addr)) => control::status_rest(&addr, timeout),
            (Some(dir), None) => control::status(&dir, timeout),
            (None, None) => Err(Failure::Message("give a checkpoint directory or --metrics-addr".into())),
        },
        Command::Inspect { path, uid, json } => inspect::inspect(&path, uid.as_deref(), json),
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
