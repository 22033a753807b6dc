//! The checkpoint coordinator: one thread per process, the I/O shell around the checkpoint
//! [`Protocol`]. It turns what reaches it (operators' parts, control requests, messages of
//! other processes' coordinators, the clock) into protocol events, and performs the protocol's
//! actions: it encodes and writes parts off the worker threads, writes manifests, freezes and
//! announces claims, commits sinks, applies retention, talks to the other processes and
//! answers clients. The decisions are all in [`super::protocol`]; nothing here decides.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use super::control::Control;
use super::link::Peer;
use super::messages::{Message, Reply, Wire};
use super::protocol::{Action, Event, Peers, Protocol, Settings};
use super::socket::Server;
use super::storage::{local_path, Location};
use super::store::{apply_retention, list_checkpoints, mark_committing, write_manifest, write_part};
use super::{failpoint, CheckpointConfig};
use crate::error::{Error, Result};
use crate::metrics::JobState;
use crate::runtime::JobShared;
use crate::time::Clock;

/// A follower sends its metrics to the leader every this many rounds of its loop (a round
/// waits at most 10 ms for a message: about once a second or more often).
const FIGURES_EVERY_ROUNDS: u64 = 100;

/// How this process's coordinator is connected to the others.
pub(crate) struct Link {
    /// This process's index.
    pub(crate) process: usize,
    /// Processes in the job.
    pub(crate) processes: usize,
    /// Workers of the whole job.
    pub(crate) total_workers: usize,
    /// On followers: the leader.
    pub(crate) leader: Option<Peer>,
    /// On the leader: every follower.
    pub(crate) followers: Vec<Peer>,
}

impl Link {
    /// A job of one process.
    pub(crate) fn single(workers: usize) -> Link {
        Link { process: 0, processes: 1, total_workers: workers, leader: None, followers: Vec::new() }
    }
}

/// The coordinator thread of a job.
pub(crate) struct Coordinator {
    thread: JoinHandle<()>,
    sender: mpsc::Sender<Message>,
}

/// The I/O shell's state.
struct Shell {
    protocol: Protocol<Reply>,
    config: CheckpointConfig,
    control: Arc<Control>,
    shared: Arc<JobShared>,
    clock: Arc<dyn Clock>,
    /// Workers of this process.
    workers: usize,
    link: Link,
    /// Whether the protocol has been told every worker's dataflow is built.
    built: bool,
    /// The control socket (leader only); dropped (and removed) when the coordinator ends.
    server: Option<Server>,
}

impl Coordinator {
    /// Starts the coordinator thread.
    pub(crate) fn start(
        config: CheckpointConfig,
        workers: usize,
        link: Link,
        control: Arc<Control>,
        sender: mpsc::Sender<Message>,
        receiver: mpsc::Receiver<Message>,
        shared: Arc<JobShared>,
        clock: Arc<dyn Clock>,
    ) -> Result<Coordinator> {
        Location::open(&config.dir)?.create_dir()?;
        let newest = list_checkpoints(&config.dir)?.first().map_or(0, |(id, _)| *id);
        let restored_id = control.restored.as_ref().map_or(0, |restored| restored.manifest.id);
        let server = match link.leader {
            None => Some(Server::start(&config.dir, sender.clone())?),
            Some(_) => None,
        };
        let settings = Settings {
            dir: config.dir.clone(),
            interval_ms: config.interval.map(|interval| interval.as_millis() as u64),
            process: link.process,
            processes: link.processes,
            total_workers: link.total_workers,
            first_id: newest.max(restored_id) + 1,
        };
        let mut shell = Shell {
            protocol: Protocol::new(settings, clock.now_ms()),
            config,
            control,
            shared,
            clock,
            workers,
            link,
            built: false,
            server,
        };
        let thread = std::thread::Builder::new()
            .name("eddy-checkpoints".into())
            .spawn(move || {
                if let Err(error) = shell.run(&receiver) {
                    shell.shared.fail(error);
                }
                for action in shell.protocol.shutdown() {
                    let _ = shell.perform(action);
                }
                shell.server.take();
            })
            .map_err(|error| Error::io("starting the checkpoint coordinator", error))?;
        Ok(Coordinator { thread, sender })
    }

    /// Tells the coordinator the workers are done (`succeeded`: the input ended, so take the
    /// final checkpoint and commit) and waits for it.
    pub(crate) fn finish(self, succeeded: bool) {
        let _ = self.sender.send(Message::Finish { succeeded });
        let _ = self.thread.join();
    }
}

impl Shell {
    fn run(&mut self, receiver: &mpsc::Receiver<Message>) -> Result<()> {
        let mut rounds = 0u64;
        loop {
            rounds += 1;
            if rounds.is_multiple_of(FIGURES_EVERY_ROUNDS) {
                self.send_figures(false)?;
            }
            match receiver.recv_timeout(Duration::from_millis(10)) {
                Ok(Message::Finish { succeeded }) => {
                    // The workers have ended and published their last figures.
                    self.send_figures(true)?;
                    // Parts sent before the workers ended are already queued.
                    while let Ok(message) = receiver.try_recv() {
                        if !matches!(message, Message::Finish { .. }) {
                            self.receive(message)?;
                        }
                    }
                    self.drive(Event::WorkersDone { succeeded })?;
                }
                Ok(message) => self.receive(message)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if self.protocol.done() {
                return Ok(());
            }
            self.drive(Event::Tick { failed: self.shared.failed() })?;
            if self.protocol.done() {
                return Ok(());
            }
        }
    }

    /// A follower of a job that serves metrics sends its figures to the leader (`ended`: its
    /// workers are done, so the job has ended in this process).
    fn send_figures(&mut self, ended: bool) -> Result<()> {
        let (Some(leader), Some(metrics)) = (self.link.leader.as_mut(), self.shared.metrics.get()) else {
            return Ok(());
        };
        let mut figures = metrics.own_snapshot();
        if ended {
            figures.state = if self.shared.failed() { JobState::Failed } else { JobState::Finished };
        }
        leader.send(&Wire::Figures { figures: Box::new(figures) })
    }

    fn receive(&mut self, message: Message) -> Result<()> {
        if let Message::Peer { message: Ok(Wire::Figures { figures }), .. } = message {
            if let Some(metrics) = self.shared.metrics.get() {
                metrics.set_peer(*figures);
            }
            return Ok(());
        }
        let event = match message {
            Message::Part(submission) => Event::Part(submission.resolve()?),
            Message::Request(request, reply) => Event::Request(request, reply),
            Message::Peer { process, message: Ok(message) } => Event::Peer { process, message },
            Message::Peer { process, message: Err(error) } => Event::PeerLost { process, error },
            Message::Finish { .. } => return Ok(()),
        };
        self.drive(event)
    }

    /// Feeds `event` to the protocol and performs its actions; actions that answer with an
    /// event (freezing claims, checking a savepoint target) are fed back in order.
    fn drive(&mut self, event: Event<Reply>) -> Result<()> {
        if !self.built && self.control.workers_built.load(Ordering::SeqCst) == self.workers {
            self.built = true;
            let participants = self.control.registered.load(Ordering::SeqCst);
            self.drive(Event::Built { participants })?;
        }
        let mut events = VecDeque::from([event]);
        while let Some(event) = events.pop_front() {
            for action in self.protocol.handle(self.clock.now_ms(), event)? {
                events.extend(self.perform(action)?);
            }
        }
        Ok(())
    }

    fn perform(&mut self, action: Action<Reply>) -> Result<Option<Event<Reply>>> {
        match action {
            Action::CheckTarget { dir } => return Ok(Some(Event::TargetChecked(check_target(dir)))),
            Action::Freeze => return Ok(Some(Event::Frozen { claimed: self.control.freeze() })),
            Action::Thaw => self.control.thaw(),
            Action::Announce { id, time } => {
                self.control.announce(id, time);
                if let Some(metrics) = self.shared.metrics.get() {
                    metrics.checkpoint_started(id, time);
                }
            }
            Action::Retire { id } => {
                self.control.retire(id);
                if let Some(metrics) = self.shared.metrics.get() {
                    metrics.checkpoint_ended(id, false);
                }
            }
            Action::Close => self.control.close(),
            Action::CreateDir { dir } => Location::open(&dir)?.create_dir()?,
            Action::RemoveDir { dir } => {
                // Best effort: an abandoned checkpoint has no manifest, so it is never restored.
                if let Err(error) = Location::open(&dir).and_then(|location| location.delete_all()) {
                    eprintln!("eddy: could not delete abandoned checkpoint {}: {error}", dir.display());
                }
            }
            Action::WritePart { dir, relative, bytes } => write_part(&dir, &relative, &bytes)?,
            Action::WriteManifest { dir, manifest } => {
                write_manifest(&dir, &manifest)?;
                if let Some(metrics) = self.shared.metrics.get() {
                    let kind = serde_json::to_value(manifest.kind).ok();
                    let kind = kind.as_ref().and_then(|kind| kind.as_str()).unwrap_or("checkpoint");
                    metrics.checkpoint_written(
                        manifest.id,
                        kind,
                        manifest.stats.duration_ms,
                        manifest.stats.bytes,
                    );
                }
            }
            Action::MarkCommitting { dir } => mark_committing(&dir)?,
            Action::Commit { staged } => {
                for (uid, committables) in staged {
                    let committer = self.control.committer(&uid).ok_or_else(|| {
                        Error::Internal(format!("`{uid}` staged output but registered no committer"))
                    })?;
                    committer.commit(&committables)?;
                }
            }
            Action::Completed { id } => {
                self.control.complete(id);
                if let Some(metrics) = self.shared.metrics.get() {
                    metrics.checkpoint_ended(id, true);
                }
            }
            Action::ApplyRetention => {
                let keep = self.control.restored.as_ref().map(|restored| restored.path.clone());
                apply_retention(&self.config.dir, self.config.retain, keep.as_deref())?;
            }
            Action::Send { to: Peers::Leader, message } => {
                if let Some(leader) = self.link.leader.as_mut() {
                    leader.send(&message)?;
                }
            }
            Action::Send { to: Peers::Followers, message } => {
                for follower in &mut self.link.followers {
                    follower.send(&message)?;
                }
            }
            Action::Reply { to, response } => to.send(response),
            Action::Failpoint(name) => failpoint(name),
            Action::Log(text) => eprintln!("eddy: {text}"),
            Action::Halt => self.shared.halt(),
        }
        Ok(None)
    }
}

/// Whether a savepoint can be written into `dir`: it must be empty or not exist, and be
/// creatable. It is created here, so that a target that cannot be written is refused with an
/// answer to the client instead of failing the running job.
fn check_target(dir: PathBuf) -> std::result::Result<PathBuf, String> {
    let dir = match local_path(&dir) {
        Some(local) => std::path::absolute(&local).unwrap_or(local),
        None => dir,
    };
    let location = Location::open(&dir).map_err(|error| format!("cannot use {}: {error}", dir.display()))?;
    match location.list() {
        Ok(names) if !names.is_empty() => return Err(format!("{} exists and is not empty", dir.display())),
        Ok(_) => {}
        Err(error) => return Err(format!("cannot use {}: {error}", dir.display())),
    }
    location.create_dir().map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    Ok(dir)
}
