//! The checkpoint protocol of one process as a state machine without I/O: events in, actions
//! out (the shape of quinn-proto under quinn). [`super::coordinator`] is the I/O shell around
//! it: it turns operator parts, control requests, peer messages and clock ticks into
//! [`Event`]s, and performs the [`Action`]s (write files, talk to peers, freeze claims, commit
//! sinks, answer clients). Every step and failure path is unit-tested below.
//!
//! # One checkpoint, on the leader (process 0)
//! ```text
//! Tick (interval elapsed, or a savepoint request queued)
//!   -> [CheckTarget -> TargetChecked]              savepoints only: is the target usable?
//!   -> Freeze                                      claims above the highest wait
//! Frozen {claimed}
//!   -> Send(Followers, Prepare)                    each follower freezes, answers its claim
//! Peer(Prepared) from every follower
//!   -> CreateDir, Announce {id, E = max claim + 1}, Send(Followers, Announce)
//! Part ... (one per participant and worker)      -> WritePart
//! Peer(Done) from every follower, and every local part in
//!   -> WriteManifest, Commit, Send(Followers, Commit), Completed, ApplyRetention, Reply
//! ```
//! A follower answers `Prepare` with `Freeze` then `Send(Leader, Prepared)`, collects its parts
//! after `Announce`, sends `Done` when they are all written, and commits on `Commit`.
//!
//! # End of input
//! When a participant's input ends it submits a *final* part, which stands in for it in every
//! checkpoint it no longer answers. Once every process's workers are done, the leader abandons
//! what cannot complete and takes the final checkpoint; its manifest is written before the last
//! output is committed. Staged output is never abandoned: a checkpoint holding some that cannot
//! complete fails the job, so that a restore produces that output again.

use std::collections::VecDeque;
use std::path::PathBuf;

use super::commit::Committable;
use super::messages::{ControlRequest, ControlResponse, Wire};
use super::part::{Part, FINAL};
use super::store::{
    checkpoint_dir_name, CheckpointKind, CheckpointStats, Manifest, OperatorEntry, FORMAT, FORMAT_VERSION,
};
use crate::error::{Error, Result};

mod in_flight;

use in_flight::{InFlight, Preparing};

/// What the protocol needs to know of its process and job.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The checkpoint directory (`chk-<id>` directories and default savepoint targets).
    pub(crate) dir: PathBuf,
    /// Processing time between periodic checkpoints; `None`: savepoints and the final only.
    pub(crate) interval_ms: Option<u64>,
    /// This process's index; 0 leads.
    pub(crate) process: usize,
    /// Processes in the job.
    pub(crate) processes: usize,
    /// Workers of the whole job (written into manifests).
    pub(crate) total_workers: usize,
    /// The id of the first checkpoint this run takes.
    pub(crate) first_id: u64,
}

/// Where a [`Wire`] message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peers {
    /// The leader (from a follower).
    Leader,
    /// Every follower (from the leader).
    Followers,
}

/// What happened, as the shell tells it.
#[derive(Debug)]
pub(crate) enum Event<R> {
    /// Every worker has built its dataflow; `participants` parts make a complete checkpoint of
    /// this process.
    Built { participants: usize },
    /// A participant handed over its part (of a checkpoint, or [`FINAL`]).
    Part(Part),
    /// A client asked something; `R` is where the answer goes.
    Request(ControlRequest, R),
    /// The answer to [`Action::CheckTarget`]: the target as an absolute path, or why it cannot
    /// be used.
    TargetChecked(std::result::Result<PathBuf, String>),
    /// The answer to [`Action::Freeze`]: the highest time claimed so far, or `None` when no
    /// checkpoint can start (the input ended, or the job is closing).
    Frozen { claimed: Option<u64> },
    /// This process's workers are done; `succeeded` when their input ended.
    WorkersDone { succeeded: bool },
    /// A message from another process's coordinator.
    Peer { process: usize, message: Wire },
    /// The link to another process ended.
    PeerLost { process: usize, error: Error },
    /// Time passes: the shell ticks after every message or quiet interval. `failed` when some
    /// worker failed the job.
    Tick { failed: bool },
}

/// What the shell must do, in order.
#[derive(Debug)]
pub(crate) enum Action<R> {
    /// Check that a savepoint target can be used (exists empty, or can be created); answer
    /// with [`Event::TargetChecked`].
    CheckTarget { dir: PathBuf },
    /// Freeze claims (`Control::freeze`) and answer with [`Event::Frozen`].
    Freeze,
    /// Thaw claims without a checkpoint.
    Thaw,
    /// Announce checkpoint `id` at logical time `time` to this process's operators.
    Announce { id: u64, time: u64 },
    /// Forget an abandoned checkpoint.
    Retire { id: u64 },
    /// No checkpoint starts any more.
    Close,
    /// Create a checkpoint directory.
    CreateDir { dir: PathBuf },
    /// Remove the directory of an abandoned checkpoint.
    RemoveDir { dir: PathBuf },
    /// Write and fsync a part file at `relative` in `dir`.
    WritePart { dir: PathBuf, relative: String, bytes: Vec<u8> },
    /// Write the manifest atomically into `dir`.
    WriteManifest { dir: PathBuf, manifest: Box<Manifest> },
    /// Record durably that the checkpoint in `dir` begins to commit output (see
    /// [`super::store::COMMITTING`]).
    MarkCommitting { dir: PathBuf },
    /// Make what these sinks staged visible (after the manifest is durable).
    Commit { staged: Vec<(String, Vec<Committable>)> },
    /// Checkpoint `id` is complete (leader) or committed (follower): tell the operators.
    Completed { id: u64 },
    /// Delete old checkpoints beyond the number retained.
    ApplyRetention,
    /// Send a message to other processes.
    Send { to: Peers, message: Wire },
    /// Answer a client.
    Reply { to: R, response: ControlResponse },
    /// Abort here if the failpoint of this name is set (fault-injection tests).
    Failpoint(&'static str),
    /// Tell the log.
    Log(String),
    /// Stop every worker without draining (after a stop-with-savepoint).
    Halt,
}

/// The protocol state of one process's coordinator.
#[derive(Debug)]
pub(crate) struct Protocol<R> {
    settings: Settings,
    next_id: u64,
    next_trigger: u64,
    /// Parts that make a complete checkpoint of this process, once every worker has built.
    expected: Option<usize>,
    in_flight: VecDeque<InFlight<R>>,
    preparing: Option<Preparing<R>>,
    /// A savepoint request whose target is being checked: (reply, stop).
    checking: Option<(R, bool)>,
    /// Follower: the `Prepare` being answered (waiting for the freeze).
    answering: Option<u64>,
    /// Follower: checkpoints whose parts are durable, waiting for the leader's commit.
    awaiting_commit: Vec<(u64, CheckpointKind, Vec<(String, Vec<Committable>)>)>,
    requests: VecDeque<(ControlRequest, R)>,
    final_parts: Vec<Part>,
    last_completed: Option<PathBuf>,
    /// Whether this process's workers are done, and whether their input ended.
    local_finished: Option<bool>,
    /// Leader: which followers' workers are done.
    followers_finished: Vec<Option<bool>>,
    final_started: bool,
    halted: bool,
    exit: bool,
    actions: Vec<Action<R>>,
}

impl<R> Protocol<R> {
    /// A protocol starting at clock time `now`.
    pub(crate) fn new(settings: Settings, now: u64) -> Self {
        let followers = if settings.process == 0 { settings.processes.saturating_sub(1) } else { 0 };
        Protocol {
            next_id: settings.first_id,
            next_trigger: now.saturating_add(settings.interval_ms.unwrap_or(u64::MAX / 2)),
            settings,
            expected: None,
            in_flight: VecDeque::new(),
            preparing: None,
            checking: None,
            answering: None,
            awaiting_commit: Vec::new(),
            requests: VecDeque::new(),
            final_parts: Vec::new(),
            last_completed: None,
            local_finished: None,
            followers_finished: vec![None; followers],
            final_started: false,
            halted: false,
            exit: false,
            actions: Vec::new(),
        }
    }

    /// Whether the coordinator's work is done.
    pub(crate) fn done(&self) -> bool {
        self.exit
    }

    /// Whether the job was halted after a stop-with-savepoint.
    #[cfg(test)]
    pub(crate) fn halted(&self) -> bool {
        self.halted
    }

    fn is_follower(&self) -> bool {
        self.settings.process != 0
    }

    fn followers(&self) -> usize {
        self.followers_finished.len()
    }

    /// Handles one event at clock time `now`; returns what to do, in order. An error ends the
    /// job (the shell fails it); the protocol is not used afterwards except for
    /// [`Protocol::shutdown`].
    pub(crate) fn handle(&mut self, now: u64, event: Event<R>) -> Result<Vec<Action<R>>> {
        let outcome = match event {
            Event::Built { participants } => {
                self.expected = Some(participants);
                Ok(())
            }
            Event::Part(part) => {
                self.on_part(part, now);
                Ok(())
            }
            Event::Request(request, reply) => {
                self.requests.push_back((request, reply));
                Ok(())
            }
            Event::TargetChecked(target) => self.on_target_checked(target),
            Event::Frozen { claimed } => self.on_frozen(claimed, now),
            Event::WorkersDone { succeeded } => self.on_workers_done(succeeded, now),
            Event::Peer { process, message } => self.on_peer(process, message, now),
            Event::PeerLost { process, error } => self.on_peer_lost(process, error),
            Event::Tick { failed } => self.on_tick(failed, now),
        };
        let actions = std::mem::take(&mut self.actions);
        outcome.map(|()| actions)
    }

    /// The coordinator stops (done, or failed): closes the control plane and fails every
    /// request still waiting.
    pub(crate) fn shutdown(&mut self) -> Vec<Action<R>> {
        self.actions.push(Action::Close);
        for (_, reply) in std::mem::take(&mut self.requests) {
            self.actions
                .push(Action::Reply { to: reply, response: ControlResponse::failed("the job ended") });
        }
        let checking = self.checking.take().map(|(reply, _)| reply);
        let preparing = self.preparing.take().and_then(|preparing| preparing.reply);
        let in_flight: Vec<R> = self.in_flight.drain(..).flat_map(|in_flight| in_flight.replies).collect();
        for reply in in_flight.into_iter().chain(preparing).chain(checking) {
            self.actions.push(Action::Reply {
                to: reply,
                response: ControlResponse::failed("the job ended before the savepoint completed"),
            });
        }
        std::mem::take(&mut self.actions)
    }

    fn on_part(&mut self, part: Part, now: u64) {
        if part.checkpoint == FINAL {
            // A participant whose input has ended contributes its final state to every
            // checkpoint it has not answered: it has handled everything it will ever see, all of
            // it at claimed times, so before any checkpoint announced from now on.
            for in_flight in &mut self.in_flight {
                in_flight.add(part.clone(), now, &mut self.actions);
            }
            self.final_parts.push(part);
            return;
        }
        if let Some(in_flight) = self.in_flight.iter_mut().find(|in_flight| in_flight.id == part.checkpoint) {
            in_flight.add(part, now, &mut self.actions);
        } // Otherwise abandoned.
    }

    fn on_tick(&mut self, failed: bool, now: u64) -> Result<()> {
        if self.exit {
            return Ok(());
        }
        if failed {
            if self.local_finished.is_some() {
                self.exit = true;
            }
            return Ok(());
        }
        if self.halted && self.local_finished.is_none() {
            return Ok(());
        }
        self.answer_status();
        self.maybe_trigger(now);
        // Before the final checkpoint: a checkpoint whose parts are all in (a follower's `Done`
        // arrives before its `Finished`) must complete, not be abandoned, since its sinks'
        // staged output is committed by no later checkpoint.
        self.try_complete(now)?;
        if self.exit {
            return Ok(());
        }
        // The final checkpoint waits for checkpoints still being prepared or in flight: a
        // follower whose workers are done still answers them, from its final parts.
        let busy = !self.in_flight.is_empty() || self.preparing.is_some() || self.checking.is_some();
        let some_failed =
            self.local_finished == Some(false) || self.followers_finished.contains(&Some(false));
        if !self.is_follower()
            && self.local_finished.is_some()
            && !self.final_started
            && self.followers_finished.iter().all(Option::is_some)
            && (!busy || some_failed)
        {
            if some_failed || self.halted {
                self.exit = true;
                return Ok(());
            }
            self.start_final(now)?;
        }
        Ok(())
    }

    fn answer_status(&mut self) {
        let (status, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.requests)
            .into_iter()
            .partition(|(request, _)| *request == ControlRequest::Status);
        self.requests = others.into();
        for (_, reply) in status {
            let response = ControlResponse { ok: true, path: self.last_completed.clone(), error: None };
            self.actions.push(Action::Reply { to: reply, response });
        }
    }

    fn maybe_trigger(&mut self, now: u64) {
        if self.is_follower()
            || !self.in_flight.is_empty()
            || self.preparing.is_some()
            || self.checking.is_some()
            || self.local_finished.is_some()
        {
            return;
        }
        if let Some((ControlRequest::Savepoint { target, stop }, reply)) = self.requests.pop_front() {
            let dir = target.unwrap_or_else(|| {
                self.settings.dir.join("savepoints").join(format!("savepoint-{}", self.next_id))
            });
            self.checking = Some((reply, stop));
            self.actions.push(Action::CheckTarget { dir });
            return;
        }
        if now >= self.next_trigger {
            self.next_trigger = now.saturating_add(self.settings.interval_ms.unwrap_or(u64::MAX / 2));
            let dir = self.settings.dir.join(checkpoint_dir_name(self.next_id));
            self.prepare(CheckpointKind::Checkpoint, dir, None, false);
        }
    }

    fn on_target_checked(&mut self, target: std::result::Result<PathBuf, String>) -> Result<()> {
        let Some((reply, stop)) = self.checking.take() else {
            return Err(Error::Internal("a savepoint target was checked but none was asked for".into()));
        };
        match target {
            Ok(dir) => self.prepare(CheckpointKind::Savepoint, dir, Some(reply), stop),
            Err(problem) => {
                self.actions.push(Action::Reply { to: reply, response: ControlResponse::failed(problem) })
            }
        }
        Ok(())
    }

    /// Leader: freezes claims here, then asks every follower for its highest claim (see `link`).
    fn prepare(&mut self, kind: CheckpointKind, dir: PathBuf, reply: Option<R>, stop: bool) {
        self.preparing = Some(Preparing { id: None, kind, dir, reply, stop, claimed: None, answers: 0 });
        self.actions.push(Action::Freeze);
    }

    fn on_frozen(&mut self, claimed: Option<u64>, now: u64) -> Result<()> {
        if self.is_follower() {
            let Some(id) = self.answering.take() else {
                return Err(Error::Internal("claims were frozen but no checkpoint is being prepared".into()));
            };
            self.actions.push(Action::Send { to: Peers::Leader, message: Wire::Prepared { id, claimed } });
            return Ok(());
        }
        let Some(preparing) = self.preparing.as_mut().filter(|preparing| preparing.id.is_none()) else {
            return Err(Error::Internal("claims were frozen but no checkpoint is being prepared".into()));
        };
        let Some(claimed) = claimed else {
            let reply = self.preparing.take().and_then(|preparing| preparing.reply);
            if let Some(reply) = reply {
                let response = ControlResponse::failed("the input has ended; no savepoint can be taken");
                self.actions.push(Action::Reply { to: reply, response });
            }
            return Ok(());
        };
        let id = self.next_id;
        self.next_id += 1;
        preparing.id = Some(id);
        preparing.claimed = Some(claimed);
        if self.followers() > 0 {
            self.actions.push(Action::Send { to: Peers::Followers, message: Wire::Prepare { id } });
        }
        self.settle(now)
    }

    /// A follower's answer to `Prepare`.
    fn on_prepared(&mut self, id: u64, claimed: Option<u64>, now: u64) -> Result<()> {
        let Some(preparing) = self.preparing.as_mut().filter(|preparing| preparing.id == Some(id)) else {
            return Ok(());
        };
        preparing.answers += 1;
        preparing.claimed = preparing.claimed.zip(claimed).map(|(a, b)| a.max(b));
        self.settle(now)
    }

    /// Once every follower has answered, announces the checkpoint above every claim, or
    /// cancels it when some process cannot take it.
    fn settle(&mut self, now: u64) -> Result<()> {
        let followers = self.followers();
        let ready = |preparing: &Preparing<R>| preparing.id.is_some() && preparing.answers >= followers;
        if !self.preparing.as_ref().is_some_and(ready) {
            return Ok(());
        }
        let preparing = self.preparing.take().expect("checked above");
        let id = preparing.id.expect("checked above");
        let Some(claimed) = preparing.claimed else {
            self.actions.push(Action::Thaw);
            self.actions.push(Action::Send { to: Peers::Followers, message: Wire::Cancel { id } });
            if let Some(reply) = preparing.reply {
                let response = ControlResponse::failed("the input has ended; no savepoint can be taken");
                self.actions.push(Action::Reply { to: reply, response });
            }
            return Ok(());
        };
        let time = claimed + 1;
        let in_flight = self.open(id, time, preparing.kind, preparing.dir.clone(), now);
        in_flight.replies.extend(preparing.reply);
        in_flight.stop = preparing.stop;
        self.actions.push(Action::Announce { id, time });
        if followers > 0 {
            // Followers resolve checkpoint names against their own checkpoint directory.
            let dir = match preparing.kind {
                CheckpointKind::Savepoint => preparing.dir,
                _ => PathBuf::from(checkpoint_dir_name(id)),
            };
            let message = Wire::Announce { id, time, kind: preparing.kind, dir };
            self.actions.push(Action::Send { to: Peers::Followers, message });
        }
        Ok(())
    }

    /// Starts collecting checkpoint `id` here: creates its directory and adds the final parts
    /// of participants whose input has ended (they answer no checkpoint themselves any more).
    fn open(&mut self, id: u64, time: u64, kind: CheckpointKind, dir: PathBuf, now: u64) -> &mut InFlight<R> {
        self.actions.push(Action::CreateDir { dir: dir.clone() });
        let mut in_flight = InFlight::new(id, time, kind, dir, now);
        for part in &self.final_parts {
            in_flight.add(part.clone(), now, &mut self.actions);
        }
        self.in_flight.push_back(in_flight);
        self.in_flight.back_mut().expect("pushed above")
    }

    fn all_parts(&self, count: usize) -> bool {
        self.expected.is_some_and(|expected| count >= expected)
    }

    fn try_complete(&mut self, now: u64) -> Result<()> {
        while let Some(front) = self.in_flight.front() {
            if !self.all_parts(front.count) {
                break;
            }
            if self.is_follower() {
                let in_flight = self.in_flight.pop_front().expect("checked above");
                let message = Wire::Done {
                    id: in_flight.id,
                    operators: in_flight.local_entries(),
                    parts: in_flight.count,
                    bytes: in_flight.bytes,
                };
                self.actions.push(Action::Send { to: Peers::Leader, message });
                self.awaiting_commit.push((in_flight.id, in_flight.kind, in_flight.staged()));
                continue;
            }
            if front.remote_done < self.followers() {
                break;
            }
            let in_flight = self.in_flight.pop_front().expect("checked above");
            let finished = in_flight.kind == CheckpointKind::Final;
            self.complete(in_flight, finished, now);
            if finished {
                self.exit = true;
            }
        }
        Ok(())
    }

    /// Leader: every part of `in_flight` is durable: write the manifest, then commit.
    fn complete(&mut self, in_flight: InFlight<R>, finished: bool, now: u64) {
        self.actions.push(Action::Failpoint("before-manifest"));
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
            workers: self.settings.total_workers,
            operators,
            stats: stats.clone(),
        };
        let id = in_flight.id;
        self.actions.push(Action::WriteManifest { dir: in_flight.dir.clone(), manifest: Box::new(manifest) });
        self.actions.push(Action::Failpoint("after-manifest"));
        if in_flight.holds_staged_output() || self.followers() > 0 {
            // Followers may have staged output of their own: the leader cannot tell.
            self.actions.push(Action::MarkCommitting { dir: in_flight.dir.clone() });
        }
        self.actions.push(Action::Commit { staged: in_flight.staged() });
        if self.followers() > 0 {
            self.actions.push(Action::Send { to: Peers::Followers, message: Wire::Commit { id } });
        }
        self.actions.push(Action::Failpoint("after-commit"));
        self.actions.push(Action::Completed { id });
        if in_flight.kind != CheckpointKind::Savepoint {
            self.actions.push(Action::ApplyRetention);
            self.last_completed = Some(in_flight.dir.clone());
        }
        let at =
            if finished { "end of input".to_string() } else { format!("logical time {}", in_flight.time) };
        let what = match in_flight.kind {
            CheckpointKind::Savepoint => "savepoint",
            CheckpointKind::Final => "final checkpoint",
            CheckpointKind::Checkpoint => "checkpoint",
        };
        self.actions.push(Action::Log(format!(
            "{what} {id} complete at {at}: {} parts, {} bytes, snapshot {} ms, total {} ms",
            in_flight.count + in_flight.remote_parts,
            stats.bytes,
            stats.snapshot_ms,
            stats.duration_ms,
        )));
        for reply in in_flight.replies {
            let response = ControlResponse { ok: true, path: Some(in_flight.dir.clone()), error: None };
            self.actions.push(Action::Reply { to: reply, response });
        }
        if in_flight.stop {
            if self.followers() > 0 {
                self.actions.push(Action::Send { to: Peers::Followers, message: Wire::Halt });
            }
            self.halt();
        }
    }

    fn halt(&mut self) {
        self.actions.push(Action::Close);
        self.actions.push(Action::Halt);
        self.halted = true;
    }

    fn check_final_parts(&self) -> Result<()> {
        if self.all_parts(self.final_parts.len()) {
            return Ok(());
        }
        Err(Error::Internal(format!(
            "the final checkpoint has {} of {} parts",
            self.final_parts.len(),
            self.expected.map_or_else(|| "an unknown number of".to_string(), |expected| expected.to_string())
        )))
    }

    /// Leader: every process's workers are done and the input ended. Abandons the checkpoints
    /// still missing parts and starts the final one.
    fn start_final(&mut self, now: u64) -> Result<()> {
        self.final_started = true;
        if let Some(staging) = self.in_flight.iter().find(|in_flight| in_flight.holds_staged_output()) {
            // Not reached while `on_tick` waits for checkpoints in flight, but the invariant is
            // worth a check: staged output that no checkpoint commits must fail the job, so that
            // a restore from the last complete checkpoint produces it again.
            return Err(Error::Internal(format!(
                "checkpoint {} holds staged output but could not complete before the end of input",
                staging.id
            )));
        }
        for abandoned in std::mem::take(&mut self.in_flight) {
            self.actions.push(Action::Retire { id: abandoned.id });
            self.actions.push(Action::RemoveDir { dir: abandoned.dir });
            for reply in abandoned.replies {
                let response = ControlResponse::failed("the input ended before the savepoint completed");
                self.actions.push(Action::Reply { to: reply, response });
            }
        }
        self.check_final_parts()?;
        let id = self.next_id;
        self.next_id += 1;
        let name = checkpoint_dir_name(id);
        if self.followers() > 0 {
            let message = Wire::Final { id, dir: PathBuf::from(&name) };
            self.actions.push(Action::Send { to: Peers::Followers, message });
        }
        let dir = self.settings.dir.join(name);
        self.open(id, u64::MAX, CheckpointKind::Final, dir, now);
        self.try_complete(now)
    }

    fn on_workers_done(&mut self, succeeded: bool, now: u64) -> Result<()> {
        self.try_complete(now)?;
        self.local_finished = Some(succeeded);
        if self.is_follower() {
            self.actions.push(Action::Send { to: Peers::Leader, message: Wire::Finished { succeeded } });
            if !succeeded || self.halted {
                self.exit = true;
            }
        }
        Ok(())
    }

    fn on_peer(&mut self, process: usize, message: Wire, now: u64) -> Result<()> {
        match message {
            Wire::Prepare { id } => {
                self.answering = Some(id);
                self.actions.push(Action::Freeze);
                Ok(())
            }
            Wire::Prepared { id, claimed } => self.on_prepared(id, claimed, now),
            Wire::Announce { id, time, kind, dir } => {
                let dir = self.settings.dir.join(dir);
                self.open(id, time, kind, dir, now);
                self.actions.push(Action::Announce { id, time });
                Ok(())
            }
            Wire::Cancel { .. } => {
                self.actions.push(Action::Thaw);
                Ok(())
            }
            Wire::Done { id, operators, parts, bytes } => {
                if let Some(in_flight) = self.in_flight.iter_mut().find(|in_flight| in_flight.id == id) {
                    in_flight.remote_done += 1;
                    in_flight.remote_parts += parts;
                    in_flight.bytes += bytes;
                    in_flight.remote_operators.extend(operators);
                    in_flight.last_part_ms = now;
                }
                Ok(())
            }
            Wire::Commit { id } => {
                let Some(index) = self.awaiting_commit.iter().position(|(awaiting, _, _)| *awaiting == id)
                else {
                    return Ok(());
                };
                let (_, kind, staged) = self.awaiting_commit.remove(index);
                self.actions.push(Action::Commit { staged });
                self.actions.push(Action::Completed { id });
                if kind == CheckpointKind::Final {
                    self.exit = true;
                }
                Ok(())
            }
            Wire::Halt => {
                self.halt();
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
                if !succeeded && !self.halted {
                    return Err(Error::Cluster(format!("process {process} failed; stopping the job")));
                }
                Ok(())
            }
            Wire::Final { id, dir } => {
                for abandoned in std::mem::take(&mut self.in_flight) {
                    self.actions.push(Action::Retire { id: abandoned.id });
                }
                self.check_final_parts()?;
                let dir = self.settings.dir.join(dir);
                self.open(id, u64::MAX, CheckpointKind::Final, dir, now);
                self.try_complete(now)
            }
            Wire::Hello { .. } | Wire::Figures { .. } => Ok(()),
        }
    }

    /// A link ended. Expected once the job stopped after a savepoint or the final commit, and
    /// from a follower that reported its end; otherwise the job cannot go on.
    fn on_peer_lost(&mut self, process: usize, error: Error) -> Result<()> {
        if self.halted || self.exit {
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
}

#[cfg(test)]
mod tests;
