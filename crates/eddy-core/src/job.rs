//! Running a job: worker threads, the per-worker [`Env`] in which the dataflow is built, and
//! the state shared by all workers of a process (stop requests, the first error, counters).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::checkpoint::control::Control;
use crate::checkpoint::link::{self, Peer, PeerReader};
use crate::checkpoint::lock::DirectoryLock;
use crate::checkpoint::messages::{Message, Wire};
use crate::checkpoint::restore::Restored;
use crate::checkpoint::{CheckpointConfig, Coordinator, JobControl, Link, RestoreFrom};
use crate::cluster::ClusterConfig;
use crate::error::{Error, Result};
use crate::metrics::{JobMetrics, ProcessGauges};
pub use crate::runtime::{Env, RecordOrder};
use crate::runtime::{JobShared, UidSlot};
use crate::time::{Clock, SystemClock};

/// How to run a job.
#[derive(Clone)]
pub struct JobConfig {
    /// Worker threads in this process.
    pub workers: usize,
    /// The processing-time clock handed to every operator and source.
    pub clock: Arc<dyn Clock>,
    /// Stop cleanly on Ctrl-C (SIGINT): sources end, pending timers fire, sinks finish.
    /// A second Ctrl-C exits at once.
    pub stop_on_ctrl_c: bool,
    /// In which order keyed operators apply records.
    pub record_order: RecordOrder,
    /// Checkpoints (and restore); `None` runs without.
    pub checkpoint: Option<CheckpointConfig>,
    /// The processes of a multi-process job and which one this is; `None` runs in this
    /// process only. `workers` is then the number of workers *per process*.
    pub cluster: Option<ClusterConfig>,
    /// Log a progress line (watermark, records in and out, last checkpoint) to stderr at this
    /// interval; `None` logs none.
    pub progress_interval: Option<Duration>,
    /// Collect per-operator and checkpoint figures into this handle (a server such as
    /// `eddy-observe` reads them); `None` collects nothing and costs nothing.
    pub metrics: Option<Arc<JobMetrics>>,
}

impl Default for JobConfig {
    fn default() -> Self {
        JobConfig {
            workers: 1,
            clock: Arc::new(SystemClock),
            stop_on_ctrl_c: false,
            record_order: RecordOrder::default(),
            checkpoint: None,
            cluster: None,
            progress_interval: None,
            metrics: None,
        }
    }
}

impl JobConfig {
    /// The default configuration with `workers` worker threads.
    pub fn with_workers(workers: usize) -> Self {
        JobConfig { workers, ..JobConfig::default() }
    }
}

/// What a finished job reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobSummary {
    /// Records read by all sources.
    pub records_read: u64,
    /// Bad records routed to dead-letter side outputs instead of failing the job.
    pub dead_letters: u64,
    /// Whether the job stopped after a savepoint (rather than at the end of its input).
    pub stopped_with_savepoint: bool,
}

/// Asks a running job to stop cleanly: sources end as if their input were exhausted, so pending
/// timers fire and sinks finish (Flink's `stop --drain`).
#[derive(Clone)]
pub struct StopHandle {
    shared: Arc<JobShared>,
}

impl StopHandle {
    /// Requests the stop.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

/// A job: a dataflow built by a closure that runs once on every worker.
pub struct Job {
    config: JobConfig,
    shared: Arc<JobShared>,
    control: (mpsc::Sender<Message>, mpsc::Receiver<Message>),
}

impl Job {
    /// A job with the given configuration.
    pub fn new(config: JobConfig) -> Self {
        Job { config, shared: Arc::new(JobShared::new()), control: mpsc::channel() }
    }

    /// A handle for savepoints of the running job (from another thread), the in-process
    /// counterpart of the control socket. Requests fail when the job has no checkpoints.
    pub fn control(&self) -> JobControl {
        JobControl { sender: self.control.0.clone() }
    }

    /// A handle that stops the job cleanly from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { shared: Arc::clone(&self.shared) }
    }

    /// Builds the dataflow on every worker with `build` and runs it until all sources end (or
    /// the job is stopped or fails). Returns the first error any worker hit.
    ///
    /// `build` runs once per worker thread, with that worker's [`Env`].
    pub fn run<F>(self, build: F) -> Result<JobSummary>
    where
        F: Fn(&mut Env<'_>) -> Result<()> + Send + Sync + 'static,
    {
        if self.config.workers == 0 {
            return Err(Error::Config("a job needs at least one worker".into()));
        }
        if self.config.stop_on_ctrl_c {
            install_ctrl_c(self.stop_handle());
        }
        let workers = self.config.workers;
        let (sender, receiver) = self.control;
        let cluster = self.config.cluster.clone().filter(|cluster| cluster.processes > 1);
        let process = cluster.as_ref().map_or(0, |cluster| cluster.process);
        crate::checkpoint::set_process(process);
        // One job at a time per checkpoint directory; process 0 holds the lock for the whole run.
        let _lock = match &self.config.checkpoint {
            Some(checkpoint) if process == 0 => Some(DirectoryLock::acquire(&checkpoint.dir)?),
            _ => None,
        };
        let mut network = match &cluster {
            Some(cluster) => {
                // A panic anywhere must end the process, so that its peers notice and the
                // supervisor restarts the whole job, rather than leave it half alive.
                abort_on_panic();
                Some(Network::connect(cluster, workers, self.config.checkpoint.as_ref())?)
            }
            None => None,
        };
        let coordinator = match &self.config.checkpoint {
            Some(checkpoint) => {
                let (restored, run_id) = match network.as_mut() {
                    Some(network) => network.agree(checkpoint)?,
                    None => (restore(checkpoint)?, run_id()),
                };
                if let Some(restored) = &restored {
                    eprintln!(
                        "eddy: restoring from {} ({:?} {}, written by {} workers, restoring at {})",
                        restored.path.display(),
                        restored.manifest.kind,
                        restored.manifest.id,
                        restored.manifest.workers,
                        workers * cluster.as_ref().map_or(1, |cluster| cluster.processes)
                    );
                }
                let control = Arc::new(Control::new(sender.clone(), restored, run_id));
                let _ = self.shared.checkpoints.set(Arc::clone(&control));
                let link = match network.as_mut() {
                    Some(network) => network.link(workers, &sender)?,
                    None => Link::single(workers),
                };
                Some(Coordinator::start(
                    checkpoint.clone(),
                    workers,
                    link,
                    control,
                    sender,
                    receiver,
                    Arc::clone(&self.shared),
                    Arc::clone(&self.config.clock),
                )?)
            }
            None => None,
        };
        if let Some(metrics) = &self.config.metrics {
            let _ = self.shared.metrics.set(Arc::clone(metrics));
            // Weak: the metrics outlive the job (`end` keeps the last values).
            let shared = Arc::downgrade(&self.shared);
            let processes = cluster.as_ref().map_or(1, |cluster| cluster.processes);
            let gauges = Box::new(move || shared.upgrade().map(|shared| gauges(&shared)).unwrap_or_default());
            metrics.begin(process, processes, workers, describe(&self.config), gauges);
        }
        let progress = self.config.progress_interval.map(|interval| {
            Progress::start(
                Arc::clone(&self.shared),
                interval,
                process,
                cluster.as_ref().map_or(1, |cluster| cluster.processes),
            )
        });
        let allow_non_restored =
            self.config.checkpoint.as_ref().is_some_and(|checkpoint| checkpoint.allow_non_restored_state);
        let shared = Arc::clone(&self.shared);
        let clock = Arc::clone(&self.config.clock);
        let record_order = self.config.record_order;
        let run_worker = move |worker: &mut timely::worker::Worker| {
            let index = worker.index();
            crate::runtime::set_worker_thread(index);
            if let Some(metrics) = shared.metrics.get() {
                crate::metrics::recorder::install(worker, metrics.worker_slot(index));
            }
            // With `panic = "abort"` (release builds) a panic ends the process, and the
            // supervisor restarts the job. Where panics unwind (tests, debug builds), a panicking
            // worker fails the job, so that the other workers stop instead of waiting forever.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let uids = Rc::new(RefCell::new(Vec::new()));
                let built = worker.dataflow::<u64, _, _>(|scope| {
                    let mut env = Env {
                        scope,
                        shared: Arc::clone(&shared),
                        clock: Arc::clone(&clock),
                        ids: Rc::new(Cell::new(0)),
                        record_order,
                        uids: Rc::clone(&uids),
                    };
                    build(&mut env)
                });
                let checked =
                    built.and_then(|()| check_uids(&shared, &uids.borrow(), index, allow_non_restored));
                if let Err(error) = checked {
                    shared.fail(error);
                    return;
                }
                if let (0, Some(metrics)) = (index, shared.metrics.get()) {
                    let uids = uids.borrow();
                    metrics.set_uids(
                        uids.iter().map(|slot| (slot.address.borrow().clone(), slot.get())).collect(),
                    );
                }
                if let Some(control) = shared.checkpoints.get() {
                    control.workers_built.fetch_add(1, Ordering::SeqCst);
                }
                // Park briefly rather than indefinitely, so a failure elsewhere is noticed.
                while !shared.failed()
                    && !shared.halted()
                    && worker.step_or_park(Some(Duration::from_millis(50)))
                {}
            }));
            if let Err(payload) = outcome {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|message| (*message).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                shared.fail(Error::Internal(format!("worker {index} panicked: {message}")));
            }
            if shared.failed() || shared.halted() {
                // A failed or halted dataflow cannot complete; timely would otherwise wait for it.
                for dataflow in worker.installed_dataflows() {
                    worker.drop_dataflow(dataflow);
                }
            }
        };
        let guards = match network {
            Some(network) => network.execute(workers, run_worker)?,
            None if workers == 1 => timely::execute(timely::Config::thread(), run_worker),
            None => timely::execute(timely::Config::process(workers), run_worker),
        }
        .map_err(Error::Internal)?;
        let mut joined = Ok(());
        for result in guards.join() {
            if let Err(panic) = result {
                joined = Err(Error::Internal(format!("worker panicked: {panic}")));
            }
        }
        if let Some(coordinator) = coordinator {
            coordinator.finish(joined.is_ok() && !self.shared.failed() && !self.shared.halted());
        }
        if let Some(progress) = progress {
            progress.stop();
        }
        let error = match joined {
            Ok(()) => self.shared.take_error(),
            Err(error) => Some(error),
        };
        if let Some(metrics) = &self.config.metrics {
            metrics.end(error.as_ref().map_or(Ok(()), |error| Err(error.to_string())));
        }
        if let Some(error) = error {
            return Err(error);
        }
        Ok(JobSummary {
            records_read: self.shared.records_read.load(Ordering::SeqCst),
            dead_letters: self.shared.dead_letters.load(Ordering::SeqCst),
            stopped_with_savepoint: self.shared.halted(),
        })
    }
}

/// This process's figures that the job keeps itself, for [`JobMetrics`].
fn gauges(shared: &JobShared) -> ProcessGauges {
    let watermark = shared.source_watermarks.minimum();
    let checkpoint = shared.checkpoints.get().map_or(0, |control| control.last_completed());
    ProcessGauges {
        records_read: shared.records_read.load(Ordering::Relaxed),
        records_out: shared.records_out.load(Ordering::Relaxed),
        dead_letters: shared.dead_letters.load(Ordering::Relaxed),
        source_watermark: (watermark != u64::MAX).then_some(watermark),
        last_checkpoint: (checkpoint != 0).then_some(checkpoint),
    }
}

/// The configuration as the REST API shows it (no secrets: the cluster secret is left out).
fn describe(config: &JobConfig) -> serde_json::Value {
    let millis = |duration: Option<Duration>| duration.map(|duration| duration.as_millis() as u64);
    serde_json::json!({
        "workers": config.workers,
        "record_order": format!("{:?}", config.record_order),
        "stop_on_ctrl_c": config.stop_on_ctrl_c,
        "progress_interval_ms": millis(config.progress_interval),
        "cluster": config.cluster.as_ref().map(|cluster| serde_json::json!({
            "processes": cluster.processes,
            "process": cluster.process,
            "addresses": cluster.addresses,
            "connect_timeout_ms": cluster.connect_timeout.as_millis() as u64,
            "authenticated": cluster.secret.is_some(),
        })),
        "checkpoint": config.checkpoint.as_ref().map(|checkpoint| serde_json::json!({
            "dir": checkpoint.dir,
            "interval_ms": millis(checkpoint.interval),
            "retain": checkpoint.retain,
            "restore": checkpoint.restore.as_ref().map(|from| format!("{from:?}")),
            "allow_non_restored_state": checkpoint.allow_non_restored_state,
            "allow_restore_fallback": checkpoint.allow_restore_fallback,
        })),
    })
}

/// Finds the checkpoint to restore from, if the job restores.
fn restore(checkpoint: &CheckpointConfig) -> Result<Option<Arc<Restored>>> {
    match &checkpoint.restore {
        Some(from) => {
            Ok(Restored::find(&checkpoint.dir, from, checkpoint.allow_restore_fallback)?.map(Arc::new))
        }
        None => Ok(None),
    }
}

/// The connections of one process of a multi-process job.
struct Network {
    cluster: ClusterConfig,
    data: Vec<Option<std::net::TcpStream>>,
    /// Followers: the leader's link. Leader: every follower's link.
    leader: Option<(Peer, PeerReader)>,
    followers: Vec<(Peer, PeerReader)>,
}

impl Network {
    fn connect(
        cluster: &ClusterConfig,
        workers: usize,
        checkpoint: Option<&CheckpointConfig>,
    ) -> Result<Network> {
        // Every connection has passed the handshake (authenticated, if the job has a secret)
        // before anything, the run id in `Hello` included, is sent on it.
        let connections = crate::cluster::connect(cluster, workers)?;
        let mut leader = None;
        let mut followers = Vec::new();
        for (peer, stream) in connections.control.into_iter().enumerate() {
            let Some(stream) = stream else { continue };
            let halves = link::split(peer, stream)?;
            if cluster.is_leader() {
                followers.push(halves);
            } else {
                leader = Some(halves);
            }
        }
        let mut network = Network { cluster: cluster.clone(), data: connections.data, leader, followers };
        if checkpoint.is_none() {
            // Without checkpoints, the processes agree only on that.
            network.hello(Wire::Hello { run_id: String::new(), restore: None, checkpoints: false })?;
        }
        Ok(network)
    }

    /// Leader: sends `hello` to every follower. Follower: reads the leader's and returns it.
    /// Fails when the leader and this process disagree on whether the job checkpoints.
    fn hello(&mut self, hello: Wire) -> Result<Wire> {
        for (peer, _) in &mut self.followers {
            peer.send(&hello)?;
        }
        let Some((_, reader)) = self.leader.as_mut() else { return Ok(hello) };
        let received = reader.read()?;
        let (Wire::Hello { checkpoints: leader, .. }, Wire::Hello { checkpoints: own, .. }) =
            (&received, &hello)
        else {
            return Err(Error::Cluster(format!("process 0 sent {received:?} instead of its hello")));
        };
        if leader != own {
            let with = |yes: bool| if yes { "with" } else { "without" };
            return Err(Error::Config(format!(
                "process 0 runs {} checkpoints, process {} {}; start every process with the same flags",
                with(*leader),
                self.cluster.process,
                with(*own),
            )));
        }
        Ok(received)
    }

    /// Agrees with the other processes on the checkpoint to restore from (the leader's choice)
    /// and on the run id.
    fn agree(&mut self, checkpoint: &CheckpointConfig) -> Result<(Option<Arc<Restored>>, String)> {
        if self.cluster.is_leader() {
            let restored = restore(checkpoint)?;
            let run_id = run_id();
            let hello = Wire::Hello {
                run_id: run_id.clone(),
                restore: restored.as_ref().map(|restored| restored.path.clone()),
                checkpoints: true,
            };
            self.hello(hello)?;
            return Ok((restored, run_id));
        }
        let hello = self.hello(Wire::Hello { run_id: String::new(), restore: None, checkpoints: true })?;
        let Wire::Hello { run_id, restore, .. } = hello else {
            return Err(Error::Cluster(format!("process 0 sent {hello:?} instead of its hello")));
        };
        let restored = match restore {
            Some(path) => {
                if checkpoint.restore.is_none() {
                    eprintln!("eddy: process 0 restores from {}; so does this process", path.display());
                }
                Some(Arc::new(
                    Restored::find(&checkpoint.dir, &RestoreFrom::Path(path), false)?.ok_or_else(|| {
                        Error::Checkpoint("process 0's checkpoint could not be found".into())
                    })?,
                ))
            }
            None => None,
        };
        Ok((restored, run_id))
    }

    /// The coordinator's link; starts forwarding the peers' messages to `sender`.
    fn link(&mut self, workers: usize, sender: &mpsc::Sender<Message>) -> Result<Link> {
        let mut link = Link::single(workers * self.cluster.processes);
        link.process = self.cluster.process;
        link.processes = self.cluster.processes;
        if let Some((peer, reader)) = self.leader.take() {
            reader.forward(sender.clone())?;
            link.leader = Some(peer);
        }
        for (peer, reader) in self.followers.drain(..) {
            reader.forward(sender.clone())?;
            link.followers.push(peer);
        }
        Ok(link)
    }

    /// Runs timely's workers over the data connections.
    fn execute<F>(
        self,
        workers: usize,
        run_worker: F,
    ) -> Result<std::result::Result<timely::communication::WorkerGuards<()>, String>>
    where
        F: Fn(&mut timely::worker::Worker) + Send + Sync + 'static,
    {
        use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
        use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
        let hooks = timely::communication::Hooks::default();
        let allocators = ProcessBuilder::new_typed_vector(workers, hooks.refill.clone(), hooks.spill.clone());
        let (builders, guard) =
            initialize_networking_from_sockets(allocators, self.data, self.cluster.process, workers, hooks)
                .map_err(|error| Error::Cluster(format!("starting timely's network threads: {error}")))?;
        Ok(timely::execute::execute_from(
            builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
            Box::new(guard),
            timely::WorkerConfig::default(),
            run_worker,
        ))
    }
}

/// Makes every panic abort the process (after the usual message).
fn abort_on_panic() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            eprintln!("eddy: a thread panicked; aborting this process so that the job restarts");
            std::process::abort();
        }));
    });
}

/// The thread that logs a progress line at a fixed interval.
struct Progress {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Progress {
    fn start(shared: Arc<JobShared>, interval: Duration, process: usize, processes: usize) -> Progress {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || loop {
            let ended = !matches!(stopped.recv_timeout(interval), Err(mpsc::RecvTimeoutError::Timeout));
            let watermark = shared.source_watermarks.minimum();
            let checkpoint = shared.checkpoints.get().map_or(0, |control| control.last_completed());
            let line = serde_json::json!({
                "process": process,
                "processes": processes,
                // `null` once this process's sources have all ended, or when it reads no split.
                "watermark": (watermark != u64::MAX).then_some(watermark),
                "records_in": shared.records_read.load(Ordering::Relaxed),
                "records_out": shared.records_out.load(Ordering::Relaxed),
                "checkpoint": (checkpoint != 0).then_some(checkpoint),
            });
            eprintln!("eddy: progress {line}");
            if ended {
                break;
            }
        });
        Progress { stop, thread }
    }

    /// Logs a last line and stops.
    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// A name for this run of a job, unique across runs (for files staged by sinks).
fn run_id() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let started = SystemClock.now_ms();
    format!("{started:x}{:x}{}", std::process::id(), RUNS.fetch_add(1, Ordering::SeqCst))
}

/// Checks the uids of a worker's stateful operators once its dataflow is built: no uid twice,
/// and (on worker 0) no restored state left without an operator.
fn check_uids(
    shared: &JobShared,
    slots: &[Rc<UidSlot>],
    worker: usize,
    allow_non_restored: bool,
) -> Result<()> {
    let uids: Vec<String> = slots.iter().map(|slot| slot.get()).collect();
    for (index, uid) in uids.iter().enumerate() {
        if uids[..index].contains(uid) {
            return Err(Error::Config(format!("uid `{uid}` is given to two operators")));
        }
    }
    let restored = shared.checkpoints.get().and_then(|control| control.restored.as_ref());
    if let (0, Some(restored)) = (worker, restored) {
        let unmatched = restored.unmatched(&uids);
        if !unmatched.is_empty() && !allow_non_restored {
            return Err(Error::Checkpoint(format!(
                "{} holds state for operators this job does not have (uids {}); restore with \
                 --allow-non-restored-state to drop it",
                restored.path.display(),
                unmatched.iter().map(|uid| format!("`{uid}`")).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

fn install_ctrl_c(stop: StopHandle) {
    let pressed = AtomicBool::new(false);
    // Installing twice (a second job in one process) fails; the first handler keeps working.
    let _ = ctrlc::set_handler(move || {
        if pressed.swap(true, Ordering::SeqCst) {
            eprintln!("eddy: second interrupt, exiting now");
            std::process::exit(130);
        }
        eprintln!("eddy: interrupt, stopping sources and draining (press Ctrl-C again to exit now)");
        stop.stop();
    });
}
