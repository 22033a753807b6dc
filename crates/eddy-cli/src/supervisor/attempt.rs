//! One attempt of the job: its processes, started together, their output forwarded to the
//! per-process logs, and the watch that ends when all have finished or one has failed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use eddy_core::time::{Clock, SystemClock};

use super::chaos::ChaosState;
use super::flags::{duration_flag, with_flags};
use super::progress::{parse_progress, summary_line, Progress};
use super::{log_path, Failure, SupervisorConfig, SupervisorError, Termination};

/// How often the supervisor looks at its processes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long to wait after a process fails for the others that fail because of it.
const ROOT_CAUSE_GRACE: Duration = Duration::from_millis(150);

/// What a process prints when it fails because a peer went away (timely's network threads, the
/// checkpoint coordinators' link): such a failure is a consequence, not the cause.
const LOST_PEER_MARKERS: [&str; 3] =
    ["timely communication error", "closed its control connection", "the control connection to process"];

/// How long the supervisor waits, once the processes of an attempt are gone, for the rest of
/// their output. Output can outlive a process when it started children of its own that hold its
/// stdout or stderr; such stragglers keep writing to the log, but nobody waits for them.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How many of a process's last output lines a failure report quotes.
const TAIL_LINES: usize = 5;

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
pub(super) struct Attempt {
    number: u32,
    processes: Vec<Process>,
    observed: Arc<Mutex<Observed>>,
    /// Receives one message per output stream that reached its end.
    readers_done: mpsc::Receiver<()>,
    readers: usize,
}

impl Attempt {
    /// Starts every process; if one cannot be started, kills those that were.
    pub(super) fn start(
        config: &SupervisorConfig,
        number: u32,
        args: &[String],
        hostfile: &Path,
        secret: &Path,
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
                .env_remove(eddy_core::cluster::SECRET_ENV)
                .env(eddy_core::cluster::SECRET_FILE_ENV, secret)
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
    pub(super) fn watch(
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
            if let Some((mut process, mut termination, by_chaos)) = failed {
                // The others notice a dead peer within milliseconds and fail too; report the
                // one that did not fail for that reason (the root cause), as Flink does.
                let failed_on_their_own = if by_chaos {
                    Vec::new()
                } else {
                    thread::sleep(ROOT_CAUSE_GRACE);
                    self.collect_exits()
                };
                self.kill_all();
                self.await_output();
                if let Some(root) = self.root_cause(process, &failed_on_their_own) {
                    (process, termination) = root;
                }
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
    /// Records the exit status of every process that has exited since the last look; returns
    /// every process that has failed so far, with how.
    fn collect_exits(&mut self) -> Vec<(usize, Termination)> {
        for running in &mut self.processes {
            if running.status.is_none() {
                if let Ok(Some(status)) = running.child.try_wait() {
                    running.status = Some(status);
                }
            }
        }
        let failed = |(process, running): (usize, &Process)| {
            let status = running.status.filter(|status| !status.success())?;
            Some((process, Termination::of(status)))
        };
        self.processes.iter().enumerate().filter_map(failed).collect()
    }

    /// Among `failed` (in process order), the first whose last lines do not say it lost a peer,
    /// when `first` says so; `None` keeps `first`.
    fn root_cause(&self, first: usize, failed: &[(usize, Termination)]) -> Option<(usize, Termination)> {
        let observed = lock(&self.observed);
        let lost_a_peer = |process: usize| {
            observed.tails[process]
                .iter()
                .any(|line| LOST_PEER_MARKERS.iter().any(|marker| line.contains(marker)))
        };
        if !lost_a_peer(first) {
            return None;
        }
        failed.iter().copied().find(|&(process, _)| !lost_a_peer(process))
    }

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
