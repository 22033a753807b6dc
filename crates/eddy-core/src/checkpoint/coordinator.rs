//! The checkpoint coordinator: one thread per process that triggers checkpoints, writes the
//! parts operators hand it (off the worker threads), writes manifests, tells sinks to commit,
//! applies retention and serves the control socket (savepoints, stop-with-savepoint).
//!
//! # The control channel
//! A running job with a checkpoint directory listens on the Unix socket
//! `<checkpoint-dir>/control.sock`. A client sends one JSON line, a [`ControlRequest`] such as
//! `{"command":"savepoint","target":"/sp/1","stop":true}` or `{"command":"status"}`, and gets
//! one JSON line back, a [`ControlResponse`], once the request is done. `eddy savepoint` and
//! `eddy stop --savepoint` are clients.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::control::{Control, Message, Part, PartKind, FINAL};
use super::link::{Peer, Wire};
use super::store::{
    apply_retention, checkpoint_dir_name, list_checkpoints, operator_dir_name, write_manifest, write_part,
    CheckpointKind, CheckpointStats, Manifest, OperatorEntry, PartEntry, FORMAT, FORMAT_VERSION,
};
use super::{failpoint, CheckpointConfig};
use crate::error::{Error, Result};
use crate::job::JobShared;
use crate::sink::Committable;
use crate::time::Clock;

/// The file name of the control socket in the checkpoint directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// A request to a running job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    /// Take a savepoint into `target` (default: `<checkpoint-dir>/savepoints/savepoint-<id>`);
    /// with `stop`, stop the job once it is complete (without draining: pending windows and
    /// timers stay in the savepoint).
    Savepoint {
        /// Where to write it; must not exist or be empty.
        #[serde(default)]
        target: Option<PathBuf>,
        /// Stop the job after the savepoint.
        #[serde(default)]
        stop: bool,
    },
    /// Report the last completed checkpoint.
    Status,
}

/// The answer to a [`ControlRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResponse {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The savepoint written, or the last completed checkpoint.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Why the request failed.
    #[serde(default)]
    pub error: Option<String>,
}

impl ControlResponse {
    fn failed(error: impl Into<String>) -> Self {
        ControlResponse { ok: false, path: None, error: Some(error.into()) }
    }
}

/// Sends `request` to the job running with checkpoint directory `dir` and waits for the
/// answer (up to `timeout`).
pub fn send_request(dir: &Path, request: &ControlRequest, timeout: Duration) -> Result<ControlResponse> {
    let path = dir.join(CONTROL_SOCKET);
    let io = |what: &str, error| Error::io(format!("{what} {}", path.display()), error);
    let mut stream =
        UnixStream::connect(&path).map_err(|error| io("connecting to the job's control socket", error))?;
    stream.set_read_timeout(Some(timeout)).map_err(|error| io("configuring", error))?;
    let mut line = serde_json::to_string(request).map_err(|error| Error::Internal(error.to_string()))?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(|error| io("writing to", error))?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(|error| io("waiting for an answer on", error))?;
    serde_json::from_str(&answer)
        .map_err(|error| Error::Checkpoint(format!("bad answer `{}` from the job: {error}", answer.trim())))
}

/// A handle to send control requests to a running job from the same process.
#[derive(Clone)]
pub struct JobControl {
    pub(crate) sender: mpsc::Sender<Message>,
}

impl JobControl {
    /// Sends a request and waits for its answer. Fails if the job is not running with
    /// checkpoints or ended first.
    pub fn request(&self, request: ControlRequest) -> Result<ControlResponse> {
        let (reply, answer) = mpsc::channel();
        self.sender
            .send(Message::Request(request, Reply::Channel(reply)))
            .map_err(|_| Error::Checkpoint("the job is not running with checkpoints".into()))?;
        answer.recv().map_err(|_| Error::Checkpoint("the job ended before answering".into()))
    }
}

/// Where an answer goes.
pub(crate) enum Reply {
    Channel(mpsc::Sender<ControlResponse>),
    Socket(UnixStream),
}

impl Reply {
    fn send(self, response: ControlResponse) {
        match self {
            Reply::Channel(sender) => {
                let _ = sender.send(response);
            }
            Reply::Socket(mut stream) => {
                if let Ok(mut line) = serde_json::to_string(&response) {
                    line.push('\n');
                    let _ = stream.write_all(line.as_bytes());
                }
            }
        }
    }
}

struct OperatorParts {
    uid: String,
    kind: PartKind,
    parts: Vec<PartEntry>,
    /// Sinks: the committables of every part.
    committables: Vec<Committable>,
}

struct InFlight {
    id: u64,
    time: u64,
    kind: CheckpointKind,
    dir: PathBuf,
    started_ms: u64,
    last_part_ms: u64,
    operators: Vec<OperatorParts>,
    count: usize,
    bytes: u64,
    replies: Vec<Reply>,
    stop: bool,
    /// Parts of other processes (leader): how many processes are done, and their entries.
    remote_done: usize,
    remote_operators: Vec<OperatorEntry>,
    remote_parts: usize,
}

impl InFlight {
    /// A checkpoint started at clock time `now`, with no parts yet.
    fn new(id: u64, time: u64, kind: CheckpointKind, dir: PathBuf, now: u64) -> InFlight {
        InFlight {
            id,
            time,
            kind,
            dir,
            started_ms: now,
            last_part_ms: now,
            operators: Vec::new(),
            count: 0,
            bytes: 0,
            replies: Vec::new(),
            stop: false,
            remote_done: 0,
            remote_operators: Vec::new(),
            remote_parts: 0,
        }
    }

    /// This process's operators and their parts, as manifest entries.
    fn local_entries(&self) -> Vec<OperatorEntry> {
        self.operators
            .iter()
            .map(|operator| OperatorEntry {
                uid: operator.uid.clone(),
                kind: operator.kind,
                parts: operator.parts.clone(),
            })
            .collect()
    }

    /// This process's sinks and what they staged.
    fn staged(&self) -> Vec<(String, Vec<Committable>)> {
        self.operators
            .iter()
            .filter(|operator| operator.kind == PartKind::Sink)
            .map(|operator| (operator.uid.clone(), operator.committables.clone()))
            .collect()
    }

    fn has(&self, uid: &str, worker: usize) -> bool {
        self.operators
            .iter()
            .any(|operator| operator.uid == uid && operator.parts.iter().any(|part| part.worker == worker))
    }

    /// Adds a part; a second part of the same participant (its final state, copied in, and a
    /// part it sent itself) is ignored: both describe its state after its input ended.
    fn add(&mut self, part: Part, now: u64) -> Result<()> {
        if self.has(&part.uid, part.worker) {
            return Ok(());
        }
        let index = match self.operators.iter().position(|operator| operator.uid == part.uid) {
            Some(index) => index,
            None => {
                self.operators.push(OperatorParts {
                    uid: part.uid.clone(),
                    kind: part.kind,
                    parts: Vec::new(),
                    committables: Vec::new(),
                });
                self.operators.len() - 1
            }
        };
        let relative = format!("{}/worker-{}.part", operator_dir_name(&part.uid), part.worker);
        let entry = write_part(&self.dir, &relative, part.worker, &part.bytes, part.entries)?;
        let operator = &mut self.operators[index];
        if part.kind == PartKind::Sink {
            let committables: Vec<Committable> = serde_json::from_slice(&part.bytes)
                .map_err(|error| Error::Internal(format!("a sink's committables: {error}")))?;
            operator.committables.extend(committables);
        }
        self.bytes += entry.bytes;
        operator.parts.push(entry);
        self.count += 1;
        self.last_part_ms = now;
        Ok(())
    }
}

/// How this process's coordinator is connected to the others.
pub(crate) struct Link {
    /// This process's index.
    pub(crate) process: usize,
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
        Link { process: 0, total_workers: workers, leader: None, followers: Vec::new() }
    }
}

/// The coordinator thread of a job.
pub(crate) struct Coordinator {
    thread: JoinHandle<()>,
    sender: mpsc::Sender<Message>,
}

/// A checkpoint the leader is preparing: it waits for every follower's highest claim.
struct Preparing {
    id: u64,
    kind: CheckpointKind,
    dir: PathBuf,
    reply: Option<Reply>,
    stop: bool,
    /// The highest claim so far; `None` once some process cannot start a checkpoint.
    claimed: Option<u64>,
    answers: usize,
}

struct State {
    config: CheckpointConfig,
    control: Arc<Control>,
    shared: Arc<JobShared>,
    clock: Arc<dyn Clock>,
    workers: usize,
    link: Link,
    next_id: u64,
    in_flight: VecDeque<InFlight>,
    preparing: Option<Preparing>,
    /// Followers: checkpoints whose parts are durable, waiting for the leader's commit.
    awaiting_commit: Vec<(u64, CheckpointKind, Vec<(String, Vec<Committable>)>)>,
    requests: VecDeque<(ControlRequest, Reply)>,
    final_parts: Vec<Part>,
    next_trigger: u64,
    listener: Option<UnixListener>,
    last_completed: Option<PathBuf>,
    /// Whether this process's workers are done (and whether the input ended).
    local_finished: Option<bool>,
    /// Leader: which followers' workers are done.
    followers_finished: Vec<Option<bool>>,
    /// Leader: the final checkpoint has been started.
    final_started: bool,
    /// The coordinator's work is done: exit the loop.
    exit: bool,
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
        std::fs::create_dir_all(&config.dir)
            .map_err(|error| Error::io(format!("creating {}", config.dir.display()), error))?;
        let newest = list_checkpoints(&config.dir)?.first().map_or(0, |(id, _)| *id);
        let restored_id = control.restored.as_ref().map_or(0, |restored| restored.manifest.id);
        let listener = if link.leader.is_none() {
            let socket = config.dir.join(CONTROL_SOCKET);
            let _ = std::fs::remove_file(&socket);
            let listener = UnixListener::bind(&socket)
                .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
                .map_err(|error| Error::io(format!("listening on {}", socket.display()), error))?;
            Some(listener)
        } else {
            None
        };
        let now = clock.now_ms();
        let followers = link.followers.len();
        let mut state = State {
            next_trigger: now + config.interval.map_or(u64::MAX / 2, |interval| interval.as_millis() as u64),
            config,
            control,
            shared,
            clock,
            workers,
            link,
            next_id: newest.max(restored_id) + 1,
            in_flight: VecDeque::new(),
            preparing: None,
            awaiting_commit: Vec::new(),
            requests: VecDeque::new(),
            final_parts: Vec::new(),
            listener,
            last_completed: None,
            local_finished: None,
            followers_finished: vec![None; followers],
            final_started: false,
            exit: false,
        };
        let thread = std::thread::Builder::new()
            .name("eddy-checkpoints".into())
            .spawn(move || {
                if let Err(error) = state.run(&receiver) {
                    state.shared.fail(error);
                }
                state.control.close();
                if let Some(listener) = state.listener.take() {
                    drop(listener);
                    let _ = std::fs::remove_file(state.config.dir.join(CONTROL_SOCKET));
                }
                for (_, reply) in state.requests.drain(..) {
                    reply.send(ControlResponse::failed("the job ended"));
                }
                let preparing = state.preparing.take().and_then(|preparing| preparing.reply);
                let replies = state.in_flight.drain(..).flat_map(|in_flight| in_flight.replies);
                for reply in replies.chain(preparing) {
                    reply.send(ControlResponse::failed("the job ended before the savepoint completed"));
                }
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

impl State {
    fn is_follower(&self) -> bool {
        self.link.leader.is_some()
    }

    fn run(&mut self, receiver: &mpsc::Receiver<Message>) -> Result<()> {
        loop {
            match receiver.recv_timeout(Duration::from_millis(10)) {
                Ok(Message::Part(submission)) => self.on_part(submission.resolve()?)?,
                Ok(Message::Request(request, reply)) => self.requests.push_back((request, reply)),
                Ok(Message::Finish { succeeded }) => {
                    // Parts sent before the workers ended are already queued.
                    while let Ok(message) = receiver.try_recv() {
                        match message {
                            Message::Part(submission) => self.on_part(submission.resolve()?)?,
                            Message::Peer { process, message } => self.on_peer(process, message)?,
                            Message::Request(request, reply) => self.requests.push_back((request, reply)),
                            Message::Finish { .. } => {}
                        }
                    }
                    self.try_complete()?;
                    self.local_finished = Some(succeeded);
                    if let Some(leader) = self.link.leader.as_mut() {
                        leader.send(&Wire::Finished { succeeded })?;
                        if !succeeded || self.shared.halted() {
                            return Ok(());
                        }
                    }
                }
                Ok(Message::Peer { process, message }) => self.on_peer(process, message)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if self.exit {
                return Ok(());
            }
            if self.shared.failed() {
                if self.local_finished.is_some() {
                    return Ok(());
                }
                continue;
            }
            if self.shared.halted() && self.local_finished.is_none() {
                continue;
            }
            self.poll_socket();
            self.answer_status();
            self.maybe_trigger()?;
            // Before the final checkpoint: a checkpoint whose parts are all in (a follower's
            // `Done` arrives before its `Finished`) must complete, not be abandoned, since its
            // sinks' staged output is committed by no later checkpoint.
            self.try_complete()?;
            if self.exit {
                return Ok(());
            }
            // The final checkpoint waits for checkpoints still being prepared or in flight: a
            // follower whose workers are done still answers them, from its final parts.
            if !self.is_follower()
                && self.local_finished.is_some()
                && !self.final_started
                && self.followers_finished.iter().all(Option::is_some)
                && (self.in_flight.is_empty() && self.preparing.is_none()
                    || self.local_finished == Some(false)
                    || self.followers_finished.contains(&Some(false)))
            {
                let succeeded = self.local_finished == Some(true)
                    && self.followers_finished.iter().all(|finished| *finished == Some(true));
                if !succeeded || self.shared.halted() || self.shared.failed() {
                    return Ok(());
                }
                self.start_final()?;
                if self.exit {
                    return Ok(());
                }
            }
        }
    }

    fn on_peer(&mut self, process: usize, message: Result<Wire>) -> Result<()> {
        let message = match message {
            Ok(message) => message,
            Err(error) => return self.on_peer_lost(process, error),
        };
        match message {
            Wire::Prepare { id } => {
                let claimed = self.control.freeze();
                self.send_leader(&Wire::Prepared { id, claimed })
            }
            Wire::Prepared { id, claimed } => self.on_prepared(id, claimed),
            Wire::Announce { id, time, kind, dir } => {
                self.open(id, time, kind, self.config.dir.join(dir))?;
                self.control.announce(id, time);
                Ok(())
            }
            Wire::Cancel { .. } => {
                self.control.thaw();
                Ok(())
            }
            Wire::Done { id, operators, parts, bytes } => {
                if let Some(in_flight) = self.in_flight.iter_mut().find(|in_flight| in_flight.id == id) {
                    in_flight.remote_done += 1;
                    in_flight.remote_parts += parts;
                    in_flight.bytes += bytes;
                    in_flight.remote_operators.extend(operators);
                    in_flight.last_part_ms = self.clock.now_ms();
                }
                Ok(())
            }
            Wire::Commit { id } => self.on_commit(id),
            Wire::Halt => {
                self.control.close();
                self.shared.halt();
                // Workers that already ended (their input ended meanwhile) have nothing to stop.
                if self.local_finished.is_some() {
                    self.exit = true;
                }
                Ok(())
            }
            Wire::Finished { succeeded } => {
                if let Some(slot) = self.followers_finished.get_mut(process.wrapping_sub(1)) {
                    *slot = Some(succeeded);
                }
                if !succeeded && !self.shared.halted() {
                    return Err(Error::Cluster(format!("process {process} failed; stopping the job")));
                }
                Ok(())
            }
            Wire::Final { id, dir } => {
                for abandoned in self.in_flight.drain(..) {
                    self.control.retire(abandoned.id);
                }
                self.check_final_parts()?;
                self.open(id, u64::MAX, CheckpointKind::Final, self.config.dir.join(dir))?;
                self.try_complete()
            }
            Wire::Hello { .. } => Ok(()),
        }
    }

    /// A link ended. Expected once the job stopped after a savepoint or the final commit, and
    /// from a follower that reported its end; otherwise the job cannot go on.
    fn on_peer_lost(&mut self, process: usize, error: Error) -> Result<()> {
        if self.shared.halted() || self.exit {
            if let Some(finished) = self.followers_finished.get_mut(process.wrapping_sub(1)) {
                finished.get_or_insert(false);
            }
            if self.is_follower() && self.local_finished.is_some() {
                self.exit = true;
            }
            return Ok(());
        }
        if !self.is_follower()
            && self.followers_finished.get(process.wrapping_sub(1)).is_some_and(Option::is_some)
        {
            return Ok(());
        }
        Err(error)
    }

    fn send_leader(&mut self, message: &Wire) -> Result<()> {
        match self.link.leader.as_mut() {
            Some(leader) => leader.send(message),
            None => Ok(()),
        }
    }

    fn broadcast(&mut self, message: &Wire) -> Result<()> {
        for follower in &mut self.link.followers {
            follower.send(message)?;
        }
        Ok(())
    }

    fn poll_socket(&mut self) {
        let Some(listener) = &self.listener else { return };
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut line = String::new();
            let Ok(reader) = stream.try_clone() else { continue };
            if BufReader::new(reader).read_line(&mut line).is_err() {
                continue;
            }
            match serde_json::from_str::<ControlRequest>(&line) {
                Ok(request) => self.requests.push_back((request, Reply::Socket(stream))),
                Err(error) => {
                    Reply::Socket(stream).send(ControlResponse::failed(format!("bad request: {error}")))
                }
            }
        }
    }

    fn answer_status(&mut self) {
        while let Some(index) =
            self.requests.iter().position(|(request, _)| *request == ControlRequest::Status)
        {
            if let Some((_, reply)) = self.requests.remove(index) {
                reply.send(ControlResponse { ok: true, path: self.last_completed.clone(), error: None });
            }
        }
    }

    fn maybe_trigger(&mut self) -> Result<()> {
        if self.is_follower()
            || !self.in_flight.is_empty()
            || self.preparing.is_some()
            || self.local_finished.is_some()
        {
            return Ok(());
        }
        let now = self.clock.now_ms();
        if let Some((ControlRequest::Savepoint { target, stop }, reply)) = self.requests.pop_front() {
            let id = self.next_id;
            let dir =
                target.unwrap_or_else(|| self.config.dir.join("savepoints").join(format!("savepoint-{id}")));
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            let usable = match std::fs::read_dir(&dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(error) => error.kind() == std::io::ErrorKind::NotFound,
            };
            if !usable {
                reply.send(ControlResponse::failed(format!("{} exists and is not empty", dir.display())));
                return Ok(());
            }
            return self.prepare(CheckpointKind::Savepoint, dir, Some(reply), stop);
        }
        if now >= self.next_trigger {
            let interval = self.config.interval.map_or(u64::MAX / 2, |interval| interval.as_millis() as u64);
            self.next_trigger = now.saturating_add(interval);
            let dir = self.config.dir.join(checkpoint_dir_name(self.next_id));
            return self.prepare(CheckpointKind::Checkpoint, dir, None, false);
        }
        Ok(())
    }

    /// Freezes claims here and asks every follower for its highest claim (see `link`).
    fn prepare(
        &mut self,
        kind: CheckpointKind,
        dir: PathBuf,
        reply: Option<Reply>,
        stop: bool,
    ) -> Result<()> {
        let id = self.next_id;
        let Some(claimed) = self.control.freeze() else {
            if let Some(reply) = reply {
                reply.send(ControlResponse::failed("the input has ended; no savepoint can be taken"));
            }
            return Ok(());
        };
        self.next_id += 1;
        self.preparing = Some(Preparing { id, kind, dir, reply, stop, claimed: Some(claimed), answers: 0 });
        self.broadcast(&Wire::Prepare { id })?;
        self.settle(id)
    }

    /// A follower's answer to `Prepare`.
    fn on_prepared(&mut self, id: u64, claimed: Option<u64>) -> Result<()> {
        let Some(preparing) = self.preparing.as_mut().filter(|preparing| preparing.id == id) else {
            return Ok(());
        };
        preparing.answers += 1;
        preparing.claimed = preparing.claimed.zip(claimed).map(|(a, b)| a.max(b));
        self.settle(id)
    }

    /// Once every follower has answered, announces the checkpoint above every claim, or
    /// cancels it when some process cannot take it.
    fn settle(&mut self, id: u64) -> Result<()> {
        if self.preparing.as_ref().is_none_or(|preparing| preparing.answers < self.link.followers.len()) {
            return Ok(());
        }
        let preparing = self.preparing.take().expect("checked");
        let Some(claimed) = preparing.claimed else {
            self.control.thaw();
            self.broadcast(&Wire::Cancel { id })?;
            if let Some(reply) = preparing.reply {
                reply.send(ControlResponse::failed("the input has ended; no savepoint can be taken"));
            }
            return Ok(());
        };
        let time = claimed + 1;
        let in_flight = self.open(id, time, preparing.kind, preparing.dir.clone())?;
        in_flight.replies.extend(preparing.reply);
        in_flight.stop = preparing.stop;
        self.control.announce(id, time);
        // Followers resolve checkpoint names against their own checkpoint directory.
        let dir = match preparing.kind {
            CheckpointKind::Savepoint => preparing.dir,
            _ => PathBuf::from(checkpoint_dir_name(id)),
        };
        self.broadcast(&Wire::Announce { id, time, kind: preparing.kind, dir })
    }

    /// Starts collecting checkpoint `id` in this process: creates its directory and adds the
    /// final parts of participants whose input has ended (they answer no checkpoint
    /// themselves any more).
    fn open(&mut self, id: u64, time: u64, kind: CheckpointKind, dir: PathBuf) -> Result<&mut InFlight> {
        std::fs::create_dir_all(&dir)
            .map_err(|error| Error::io(format!("creating {}", dir.display()), error))?;
        let now = self.clock.now_ms();
        let mut in_flight = InFlight::new(id, time, kind, dir, now);
        for part in &self.final_parts {
            in_flight.add(part.clone(), now)?;
        }
        self.in_flight.push_back(in_flight);
        Ok(self.in_flight.back_mut().expect("pushed above"))
    }

    fn on_part(&mut self, part: Part) -> Result<()> {
        if part.checkpoint == FINAL {
            // A participant whose input has ended contributes its final state to every
            // checkpoint it has not answered: it has handled everything it will ever see, all
            // of it at claimed times, so before any checkpoint announced from now on.
            let now = self.clock.now_ms();
            for in_flight in &mut self.in_flight {
                in_flight.add(part.clone(), now)?;
            }
            self.final_parts.push(part);
            return Ok(());
        }
        let now = self.clock.now_ms();
        match self.in_flight.iter_mut().find(|in_flight| in_flight.id == part.checkpoint) {
            Some(in_flight) => in_flight.add(part, now),
            None => Ok(()), // Abandoned.
        }
    }

    fn all_parts(&self, count: usize) -> bool {
        self.control.workers_built.load(Ordering::SeqCst) == self.workers
            && count >= self.control.registered.load(Ordering::SeqCst)
    }

    fn try_complete(&mut self) -> Result<()> {
        while let Some(front) = self.in_flight.front() {
            if !self.all_parts(front.count) {
                break;
            }
            if self.is_follower() {
                let in_flight = self.in_flight.pop_front().expect("checked");
                self.send_leader(&Wire::Done {
                    id: in_flight.id,
                    operators: in_flight.local_entries(),
                    parts: in_flight.count,
                    bytes: in_flight.bytes,
                })?;
                self.awaiting_commit.push((in_flight.id, in_flight.kind, in_flight.staged()));
                continue;
            }
            if front.remote_done < self.link.followers.len() {
                break;
            }
            let in_flight = self.in_flight.pop_front().expect("checked");
            let finished = in_flight.kind == CheckpointKind::Final;
            self.complete(in_flight, finished)?;
            if finished {
                self.exit = true;
            }
        }
        Ok(())
    }

    /// Follower: the leader wrote the manifest of `id`; commit what this process staged.
    fn on_commit(&mut self, id: u64) -> Result<()> {
        let Some(index) = self.awaiting_commit.iter().position(|(awaiting, _, _)| *awaiting == id) else {
            return Ok(());
        };
        let (_, kind, staged) = self.awaiting_commit.remove(index);
        self.commit(&staged)?;
        self.control.retire(id);
        self.shared.last_checkpoint.store(id, Ordering::SeqCst);
        if kind == CheckpointKind::Final {
            self.exit = true;
        }
        Ok(())
    }

    fn commit(&self, staged: &[(String, Vec<Committable>)]) -> Result<()> {
        for (uid, committables) in staged {
            let committer = self.control.committer(uid).ok_or_else(|| {
                Error::Internal(format!("sink `{uid}` staged output but registered no committer"))
            })?;
            committer.commit(committables)?;
        }
        Ok(())
    }

    fn check_final_parts(&self) -> Result<()> {
        if self.all_parts(self.final_parts.len()) {
            return Ok(());
        }
        Err(Error::Internal(format!(
            "the final checkpoint has {} of {} parts",
            self.final_parts.len(),
            self.control.registered.load(Ordering::SeqCst)
        )))
    }

    /// Leader: every process's workers are done and the input ended. Abandons the checkpoints
    /// still missing parts and starts the final one.
    fn start_final(&mut self) -> Result<()> {
        self.final_started = true;
        if let Some(staging) = self
            .in_flight
            .iter()
            .find(|in_flight| in_flight.staged().iter().any(|(_, committables)| !committables.is_empty()))
        {
            // Its staged output would be committed by no checkpoint: fail, so that a restore
            // from the last complete checkpoint produces it again.
            return Err(Error::Internal(format!(
                "checkpoint {} holds staged output but could not complete before the end of input",
                staging.id
            )));
        }
        for abandoned in self.in_flight.drain(..) {
            self.control.retire(abandoned.id);
            let _ = std::fs::remove_dir_all(&abandoned.dir);
            for reply in abandoned.replies {
                reply.send(ControlResponse::failed("the input ended before the savepoint completed"));
            }
        }
        self.check_final_parts()?;
        let id = self.next_id;
        self.next_id += 1;
        self.broadcast(&Wire::Final { id, dir: PathBuf::from(checkpoint_dir_name(id)) })?;
        self.open(id, u64::MAX, CheckpointKind::Final, self.config.dir.join(checkpoint_dir_name(id)))?;
        self.try_complete()
    }

    fn complete(&mut self, in_flight: InFlight, finished: bool) -> Result<()> {
        failpoint("before-manifest");
        let now = self.clock.now_ms();
        let mut operators: Vec<OperatorEntry> = Vec::new();
        for entry in in_flight.local_entries().into_iter().chain(in_flight.remote_operators.iter().cloned()) {
            match operators.iter_mut().find(|operator| operator.uid == entry.uid) {
                Some(operator) => operator.parts.extend(entry.parts),
                None => operators.push(entry),
            }
        }
        for operator in &mut operators {
            operator.parts.sort_by_key(|part| part.worker);
        }
        operators.sort_by(|a, b| a.uid.cmp(&b.uid));
        let stats = CheckpointStats {
            duration_ms: now.saturating_sub(in_flight.started_ms),
            snapshot_ms: in_flight.last_part_ms.saturating_sub(in_flight.started_ms),
            bytes: in_flight.bytes,
        };
        let manifest = Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            id: in_flight.id,
            kind: in_flight.kind,
            logical_time: in_flight.time,
            finished,
            workers: self.link.total_workers,
            operators,
            stats: stats.clone(),
        };
        write_manifest(&in_flight.dir, &manifest)?;
        failpoint("after-manifest");
        self.commit(&in_flight.staged())?;
        self.broadcast(&Wire::Commit { id: in_flight.id })?;
        failpoint("after-commit");
        self.control.retire(in_flight.id);
        self.shared.last_checkpoint.store(in_flight.id, Ordering::SeqCst);
        let keep = self.control.restored.as_ref().map(|restored| restored.path.clone());
        if in_flight.kind != CheckpointKind::Savepoint {
            apply_retention(&self.config.dir, self.config.retain, keep.as_deref())?;
            self.last_completed = Some(in_flight.dir.clone());
        }
        let time =
            if finished { "end of input".to_string() } else { format!("logical time {}", in_flight.time) };
        eprintln!(
            "eddy: {} {} complete at {time}: {} parts, {} bytes, snapshot {} ms, total {} ms",
            match in_flight.kind {
                CheckpointKind::Savepoint => "savepoint",
                CheckpointKind::Final => "final checkpoint",
                CheckpointKind::Checkpoint => "checkpoint",
            },
            in_flight.id,
            in_flight.count + in_flight.remote_parts,
            stats.bytes,
            stats.snapshot_ms,
            stats.duration_ms,
        );
        for reply in in_flight.replies {
            reply.send(ControlResponse { ok: true, path: Some(in_flight.dir.clone()), error: None });
        }
        if in_flight.stop {
            self.broadcast(&Wire::Halt)?;
            self.control.close();
            self.shared.halt();
        }
        Ok(())
    }
}
