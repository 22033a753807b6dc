//! The control plane between operators and the checkpoint coordinator of one process.
//!
//! # The claim rule
//! A checkpoint is taken at a logical time `E`. Every operator snapshots its state once it has
//! handled everything before `E` and nothing at or after `E`, so `E` must be announced before
//! anything at time `>= E` exists. Operators that create logical times *claim* them under the
//! control lock before emitting at them: sources claim the watermark a split moves to, keyed
//! operators claim the timestamps of the timers they fire after the input has ended. The
//! coordinator picks `E` above every claim, under the same lock. So when `E` is announced,
//! nothing at `E` or later exists anywhere in the process, and whoever later creates such a
//! time learns of `E` from the claim itself; anyone receiving a record at such a time learns
//! of `E` at its next activation, before it handles the record.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};

use super::commit::{Committable, Committer};
use super::messages::Message;
use super::part::{Encoder, PartKind, Payload, Pending, Submission, FINAL};
use super::restore::Restored;
use crate::hash::HashMap;

struct ControlState {
    max_claimed: u64,
    last_time: u64,
    pending: Vec<Pending>,
    /// No new checkpoint may start (stopping or ended).
    closed: bool,
    /// A checkpoint is being prepared across processes: claims above the reported time wait.
    frozen: bool,
}

/// Shared by all workers of a process and its coordinator.
pub(crate) struct Control {
    state: Mutex<ControlState>,
    /// Signalled when claims thaw.
    thawed: Condvar,
    /// Bumped whenever the pending list changes, so operators can skip the lock.
    generation: AtomicU64,
    sender: Mutex<mpsc::Sender<Message>>,
    /// Participants registered by all workers' dataflows.
    pub(crate) registered: AtomicUsize,
    /// Workers whose dataflow is fully built.
    pub(crate) workers_built: AtomicUsize,
    pub(crate) restored: Option<Arc<Restored>>,
    /// Identifies this run of the job (for names of files staged by sinks).
    pub(crate) run_id: String,
    committers: Mutex<HashMap<String, Arc<dyn Committer>>>,
    /// The newest checkpoint completed (leader) or committed (followers); 0: none.
    completed: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Control {
    pub(crate) fn new(
        sender: mpsc::Sender<Message>,
        restored: Option<Arc<Restored>>,
        run_id: String,
    ) -> Control {
        let last_time = restored.as_ref().map_or(0, |restored| restored.manifest.logical_time);
        Control {
            state: Mutex::new(ControlState {
                max_claimed: last_time,
                last_time,
                pending: Vec::new(),
                closed: false,
                frozen: false,
            }),
            thawed: Condvar::new(),
            generation: AtomicU64::new(0),
            sender: Mutex::new(sender),
            registered: AtomicUsize::new(0),
            workers_built: AtomicUsize::new(0),
            restored,
            run_id,
            committers: Mutex::default(),
            completed: AtomicU64::new(0),
        }
    }

    /// Freezes claims for a checkpoint being prepared and returns the highest time claimed so
    /// far (or used by a checkpoint); the checkpoint's time must be above it. `None` when no
    /// checkpoint can start (closed, or the input has ended). Until [`Control::announce`] or
    /// [`Control::thaw`], a claim above the returned time waits.
    pub(crate) fn freeze(&self) -> Option<u64> {
        let mut state = lock(&self.state);
        if state.closed || state.max_claimed >= u64::MAX - 1 {
            return None;
        }
        state.frozen = true;
        Some(state.max_claimed.max(state.last_time))
    }

    /// Announces checkpoint `id` at logical time `time` (above what [`Control::freeze`]
    /// returned, in every process) and thaws claims.
    pub(crate) fn announce(&self, id: u64, time: u64) {
        let mut state = lock(&self.state);
        state.last_time = state.last_time.max(time);
        state.pending.push(Pending { id, time });
        state.frozen = false;
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.thawed.notify_all();
    }

    /// Thaws claims without starting a checkpoint.
    pub(crate) fn thaw(&self) {
        lock(&self.state).frozen = false;
        self.thawed.notify_all();
    }

    /// Starts checkpoint `id` at the given logical `time`, bypassing the claim rule. Only for a
    /// driver that is the single source of its dataflow and knows that everything before
    /// `time` (and everything at `time` it wants in the checkpoint) has been handled, such as
    /// the single-worker test harness ([`crate::testing`]). `false` once closed.
    pub(crate) fn trigger_at(&self, id: u64, time: u64) -> bool {
        let mut state = lock(&self.state);
        if state.closed {
            return false;
        }
        state.last_time = state.last_time.max(time);
        state.max_claimed = state.max_claimed.max(time);
        state.pending.push(Pending { id, time });
        self.generation.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Checkpoint `id` is complete and its output committed: participants hear of it at their
    /// next [`Participant::take_completed`].
    pub(crate) fn complete(&self, id: u64) {
        self.completed.fetch_max(id, Ordering::SeqCst);
        self.retire(id);
    }

    /// The newest checkpoint completed (leader) or committed (follower) in this process; 0:
    /// none yet.
    pub(crate) fn last_completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Forgets a checkpoint that completed or was abandoned.
    pub(crate) fn retire(&self, id: u64) {
        let mut state = lock(&self.state);
        state.pending.retain(|pending| pending.id != id);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// No checkpoint starts after this.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.frozen = false;
        self.thawed.notify_all();
    }

    /// Registers a sink's committer under its uid (the first registration wins).
    pub(crate) fn register_committer(&self, uid: &str, committer: Arc<dyn Committer>) {
        lock(&self.committers).entry(uid.to_owned()).or_insert(committer);
    }

    pub(crate) fn committer(&self, uid: &str) -> Option<Arc<dyn Committer>> {
        lock(&self.committers).get(uid).cloned()
    }

    /// A participant handle for an operator of `worker`; counts it as expected in every
    /// checkpoint.
    pub(crate) fn participant(self: &Arc<Self>, worker: usize) -> Participant {
        self.registered.fetch_add(1, Ordering::SeqCst);
        Participant {
            control: Arc::clone(self),
            sender: lock(&self.sender).clone(),
            worker,
            generation: u64::MAX,
            handled: 0,
            pending: Vec::new(),
            completed: self.completed.load(Ordering::SeqCst),
        }
    }
}

/// An operator's view of the checkpoints in flight.
pub(crate) struct Participant {
    control: Arc<Control>,
    sender: mpsc::Sender<Message>,
    pub(crate) worker: usize,
    generation: u64,
    /// The highest checkpoint id this participant has contributed to.
    handled: u64,
    /// Checkpoints in flight this participant has not contributed to, by id.
    pending: Vec<Pending>,
    /// The newest completed checkpoint this participant has been told of.
    completed: u64,
}

impl Participant {
    fn copy_pending(pending: &mut Vec<Pending>, handled: u64, state: &ControlState) {
        pending.clear();
        pending.extend(state.pending.iter().filter(|pending| pending.id > handled));
    }

    /// Picks up newly announced checkpoints (cheap when nothing changed).
    pub(crate) fn refresh(&mut self) {
        let generation = self.control.generation.load(Ordering::SeqCst);
        if generation != self.generation {
            let state = lock(&self.control.state);
            self.generation = self.control.generation.load(Ordering::SeqCst);
            Self::copy_pending(&mut self.pending, self.handled, &state);
        }
    }

    /// Claims logical times up to `time` before emitting at them (see the module docs), and
    /// picks up every checkpoint announced so far.
    /// While a checkpoint is being prepared (see [`Control::freeze`]), a claim above the
    /// highest claimed time waits for its announcement.
    pub(crate) fn claim(&mut self, time: u64) {
        let mut state = lock(&self.control.state);
        while state.frozen && time > state.max_claimed.max(state.last_time) {
            state = self.control.thawed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.max_claimed = state.max_claimed.max(time);
        self.generation = self.control.generation.load(Ordering::SeqCst);
        Self::copy_pending(&mut self.pending, self.handled, &state);
    }

    /// The earliest checkpoint this participant still owes.
    pub(crate) fn next(&self) -> Option<Pending> {
        self.pending.first().copied()
    }

    /// Checkpoints this participant still owes, earliest first.
    pub(crate) fn owed(&self) -> &[Pending] {
        &self.pending
    }

    /// Submits this participant's part of checkpoint `checkpoint` (or [`FINAL`]).
    pub(crate) fn submit(
        &mut self,
        checkpoint: u64,
        uid: &str,
        kind: PartKind,
        bytes: Vec<u8>,
        entries: u64,
    ) {
        self.submit_part(checkpoint, uid, kind, None, Payload::Ready(bytes, entries), Vec::new());
    }

    /// Submits a part whose encoding `encode` does off the worker thread (on the coordinator's).
    pub(crate) fn submit_deferred(&mut self, checkpoint: u64, uid: &str, kind: PartKind, encode: Encoder) {
        self.submit_part(checkpoint, uid, kind, None, Payload::Deferred(encode), Vec::new());
    }

    /// Submits what a sink staged for `checkpoint`: the part is the committables as JSON, and
    /// the coordinator commits them once the checkpoint is complete.
    pub(crate) fn submit_staged(
        &mut self,
        checkpoint: u64,
        uid: &str,
        committables: Vec<Committable>,
    ) -> crate::error::Result<()> {
        let bytes = serde_json::to_vec(&committables)
            .map_err(|error| crate::error::Error::Internal(format!("encoding committables: {error}")))?;
        let entries = committables.len() as u64;
        self.submit_part(checkpoint, uid, PartKind::Sink, None, Payload::Ready(bytes, entries), committables);
        Ok(())
    }

    /// Submits a part of any kind, with the version of its format and what it staged.
    pub(crate) fn submit_part(
        &mut self,
        checkpoint: u64,
        uid: &str,
        kind: PartKind,
        version: Option<u32>,
        payload: Payload,
        committables: Vec<Committable>,
    ) {
        if checkpoint != FINAL {
            self.handled = self.handled.max(checkpoint);
            self.pending.retain(|pending| pending.id > checkpoint);
        }
        let submission = Submission {
            checkpoint,
            uid: uid.to_owned(),
            kind,
            version,
            worker: self.worker,
            payload,
            committables,
        };
        // The coordinator outlives the workers; a send error means the job is going down.
        let _ = self.sender.send(Message::Part(submission));
    }

    /// The newest checkpoint completed since the last call (Flink's
    /// `notifyCheckpointComplete`): its manifest is durable and its output committed.
    pub(crate) fn take_completed(&mut self) -> Option<u64> {
        let completed = self.control.completed.load(Ordering::SeqCst);
        (completed > self.completed).then(|| {
            self.completed = completed;
            completed
        })
    }

    /// The restored checkpoint, if the job was restored.
    pub(crate) fn restored(&self) -> Option<&Arc<Restored>> {
        self.control.restored.as_ref()
    }

    pub(crate) fn control(&self) -> &Arc<Control> {
        &self.control
    }
}
