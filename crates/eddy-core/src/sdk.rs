//! The operator SDK: what a crate above eddy-core (the SQL layer, a connector, a user's own
//! library) needs to build operators of its own inside an eddy job, with state that takes part
//! in checkpoints and savepoints exactly as the built-in operators' state does.
//!
//! * **The worker scope.** [`Env::scope`] (or [`DataStream::env`] from a stream) is the
//!   worker's timely scope: build any timely operator on it. Inputs come from
//!   [`DataStream::into_timely`], results go back with [`DataStream::from_timely`]. Timely's
//!   types change with its releases; this module and `into_timely` are the only places they
//!   show.
//! * **Uids and checkpoints.** [`Env::stateful_operator`] registers a stateful operator: it gets
//!   a uid (`<kind>-<n>` until the user names it with [`DataStream::uid`] on the stream
//!   [`DataStream::from_stateful`] returns), and, when the job checkpoints, a place in every
//!   checkpoint. The operator's state implements [`CheckpointedState`]: its own
//!   [`PartKind`] and format version, a snapshot as bytes, a restore from the parts every old
//!   worker wrote.
//! * **When to snapshot.** A checkpoint is a cut at a logical time `E`. The operator's part must
//!   hold exactly what it applied at times before `E`, so it may not apply anything at `E` or
//!   later before it snapshots: hold input at times `>= `[`StatefulOperator::hold_from`] (as the
//!   sinks do), or apply a logical time only once the input frontier has passed it (as the keyed
//!   engine does). Call [`StatefulOperator::step`] on every activation with the input frontier;
//!   it snapshots each owed checkpoint once the frontier has reached its time, and the final
//!   part once the input has ended.
//! * **Times of its own.** An operator that *creates* logical times (a source, or timers fired
//!   after the input ended) must [`StatefulOperator::claim`] a time before it emits at it.
//! * **Output to external systems** goes through a [`crate::sink::Sink`] with a
//!   [`crate::sink::Committer`] (two-phase commit), which any crate can implement.
//!
//! # Checkpointing
//! Parts are written off the worker thread. A restore at another parallelism hands every new
//! worker the parts of all old workers ([`RestoredState::parts`]); keyed state should keep the
//! keys whose hash falls in the worker's range ([`crate::hash::worker_for_hash`]).
//!
//! ```
//! use eddy_core::prelude::*;
//! use eddy_core::sdk::{CheckpointedState, PartKind, RestoredState, Snapshot};
//!
//! /// Counts the records a worker has seen; the count survives restores.
//! #[derive(Default)]
//! struct Count(u64);
//!
//! impl CheckpointedState for Count {
//!     fn kind(&self) -> PartKind {
//!         PartKind::custom("example-count").expect("a valid name")
//!     }
//!     fn version(&self) -> u32 {
//!         1
//!     }
//!     fn snapshot(&mut self) -> eddy_core::Result<Snapshot> {
//!         Ok(Snapshot::new(self.0.to_le_bytes().to_vec(), 1))
//!     }
//!     fn restore(&mut self, restored: &RestoredState<'_>) -> eddy_core::Result<()> {
//!         // Rescaling: worker 0 takes over the counts of every old worker.
//!         if restored.worker_index == 0 {
//!             for (_, bytes) in restored.parts {
//!                 self.0 += u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//! ```

use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::Scope;

use crate::checkpoint::control::Participant;
pub use crate::checkpoint::part::{PartKind, Pending};
use crate::checkpoint::part::{Payload, FINAL};
use crate::checkpoint::restore::Restored;
use crate::error::{Error, Result};
pub use crate::record::Record;
pub use crate::runtime::Env;
use crate::runtime::{JobShared, UidSlot};
use crate::stream::DataStream;
pub use crate::stream::RecordStream;

/// Fails the job from inside an operator: the first error of a job is the one it reports,
/// and the job stops. Cloned out of [`Env::failure`]; cheap to clone and to keep in closures.
#[derive(Clone)]
pub struct JobFailure {
    shared: Arc<JobShared>,
}

impl JobFailure {
    /// Fails the job with `error`.
    pub fn fail(&self, error: Error) {
        self.shared.fail(error);
    }

    /// Whether the job is failing or halting: an operator should then drop what it holds
    /// (stash, capabilities), as timely would otherwise wait for it.
    pub fn stopping(&self) -> bool {
        self.shared.failed() || self.shared.halted()
    }
}

/// What a [`CheckpointedState`] hands over for one checkpoint.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The state, in the operator's own format.
    pub bytes: Vec<u8>,
    /// How many entries (keys, rows, ...) it holds, for `eddy inspect` and statistics.
    pub entries: u64,
}

impl Snapshot {
    /// A snapshot of `bytes` holding `entries` entries.
    pub fn new(bytes: Vec<u8>, entries: u64) -> Self {
        Snapshot { bytes, entries }
    }
}

/// The state of one operator instance as a restore finds it.
#[derive(Clone, Copy, Debug)]
pub struct RestoredState<'a> {
    /// The logical time `E` of the checkpoint: the state holds what was applied before it.
    pub logical_time: u64,
    /// Whether the checkpoint was taken after the input had ended.
    pub finished: bool,
    /// The format version the parts were written with (`None`: written by an operator that
    /// declared none).
    pub version: Option<u32>,
    /// The part every old worker wrote: (old worker index, bytes). Their number is the old
    /// parallelism, which may differ from today's.
    pub parts: &'a [(usize, Vec<u8>)],
    /// This worker's index and the number of workers now, to pick the share it owns.
    pub worker_index: usize,
    /// Workers of the job now.
    pub workers: usize,
}

/// State that takes part in checkpoints and savepoints, in a format of its own.
pub trait CheckpointedState {
    /// The kind written into the manifest (a [`PartKind::custom`] name).
    fn kind(&self) -> PartKind;
    /// The version of the format [`CheckpointedState::snapshot`] writes; a restore sees the
    /// version the parts were written with and may convert older ones.
    fn version(&self) -> u32;
    /// The state as of the checkpoint's time. Called on the worker thread: copy what is cheap
    /// to copy, and prefer [`StatefulOperator::step_deferred`] for large state.
    fn snapshot(&mut self) -> Result<Snapshot>;
    /// Restores from the parts of a checkpoint, before the first record.
    fn restore(&mut self, restored: &RestoredState<'_>) -> Result<()>;
}

/// A stateful operator's registration with the job: its uid and, when the job checkpoints, its
/// place in every checkpoint. Made by [`Env::stateful_operator`]; lives in the operator's
/// closure.
pub struct StatefulOperator {
    shared: Arc<JobShared>,
    uid: Rc<UidSlot>,
    participant: Option<Participant>,
    worker_index: usize,
    workers: usize,
    restored: bool,
    ended: bool,
}

impl<'scope> Env<'scope> {
    /// The worker's timely scope, to build operators on (see [`crate::sdk`]).
    pub fn scope(&self) -> Scope<'scope, u64> {
        self.scope
    }

    /// A handle that fails the job, for operators without checkpointed state (a stateful
    /// operator has [`StatefulOperator::fail`]): a row an operator cannot process.
    pub fn failure(&self) -> JobFailure {
        JobFailure { shared: Arc::clone(&self.shared) }
    }

    /// Registers a stateful operator of `kind` (its uid is `<kind>-<n>` until the user names
    /// it).
    pub fn stateful_operator(&self, kind: &str) -> StatefulOperator {
        let context = self.stream_context();
        let uid = context.new_uid(kind);
        let participant = context.participant();
        StatefulOperator {
            shared: Arc::clone(&self.shared),
            uid,
            participant,
            worker_index: self.worker_index(),
            workers: self.workers(),
            restored: false,
            ended: false,
        }
    }
}

impl StatefulOperator {
    /// The operator's uid: the user's name or the generated one. Read it at run time (in the
    /// operator's logic), since the user may name the operator after building it.
    pub fn uid(&self) -> String {
        self.uid.get()
    }

    /// Whether the job is failing or halting (after a stop-with-savepoint): the operator should
    /// then drop its stash and capabilities, as timely would otherwise wait for it.
    pub fn stopping(&self) -> bool {
        self.shared.failed() || self.shared.halted()
    }

    /// Fails the job with `error` (the first error of a job is the one it reports).
    pub fn fail(&self, error: Error) {
        self.shared.fail(error);
    }

    /// Whether the job takes checkpoints.
    pub fn checkpoints(&self) -> bool {
        self.participant.is_some()
    }

    /// The run id of this start of the job (unique per start or restore), for names of files
    /// staged for two-phase commit; `None` without checkpoints.
    pub fn run_id(&self) -> Option<String> {
        self.participant.as_ref().map(|participant| participant.control().run_id.clone())
    }

    /// Restores `state` from the checkpoint the job restores from, if any; once, before the
    /// first record (later calls do nothing).
    pub fn restore(&mut self, state: &mut impl CheckpointedState) -> Result<()> {
        if std::mem::replace(&mut self.restored, true) {
            return Ok(());
        }
        let Some(restored) = self.participant.as_ref().and_then(Participant::restored) else { return Ok(()) };
        let restored: &Restored = restored;
        let uid = self.uid.get();
        let Some(operator) = restored.operator(&uid) else { return Ok(()) };
        let entry = restored.manifest.operators.iter().find(|operator| operator.uid == uid);
        if let Some(entry) = entry {
            if entry.kind != state.kind() {
                return Err(Error::Checkpoint(format!(
                    "`{uid}` holds state of kind `{}` in {}, but the operator keeps `{}`",
                    entry.kind,
                    restored.path.display(),
                    state.kind()
                )));
            }
        }
        state.restore(&RestoredState {
            logical_time: restored.manifest.logical_time,
            finished: restored.manifest.finished,
            version: entry.and_then(|entry| entry.version),
            parts: &operator.parts,
            worker_index: self.worker_index,
            workers: self.workers,
        })
    }

    /// Picks up newly announced checkpoints and returns the earliest the operator still owes
    /// (none once its input has ended: its final part stands in for it in every later one).
    pub fn next_checkpoint(&mut self) -> Option<Pending> {
        if self.ended {
            return None;
        }
        let participant = self.participant.as_mut()?;
        participant.refresh();
        participant.next()
    }

    /// The time from which input must wait until the owed checkpoint is snapshotted (see the
    /// module docs); `None` when none is owed.
    pub fn hold_from(&mut self) -> Option<u64> {
        self.next_checkpoint().map(|pending| pending.time)
    }

    /// Claims a logical time before emitting at it, for operators that create times (see
    /// the module docs).
    pub fn claim(&mut self, time: u64) {
        if let Some(participant) = self.participant.as_mut() {
            participant.claim(time);
        }
    }

    /// The newest checkpoint completed since the last call (Flink's
    /// `notifyCheckpointComplete`).
    pub fn take_completed(&mut self) -> Option<u64> {
        self.participant.as_mut()?.take_completed()
    }

    /// Snapshots `state` for every owed checkpoint whose time the input `frontier` has reached,
    /// and, once the input has ended (`frontier` is `None`), for every owed checkpoint and the
    /// final one. Call on every activation, after applying what is before the frontier.
    pub fn step(&mut self, state: &mut impl CheckpointedState, frontier: Option<u64>) -> Result<()> {
        self.step_with(state, frontier, |state| {
            let snapshot = state.snapshot()?;
            Ok(Payload::Ready(snapshot.bytes, snapshot.entries))
        })
    }

    /// As [`StatefulOperator::step`], but `copy` takes a cheap copy of the state on the worker
    /// thread and returns a closure that encodes it on the coordinator's thread.
    pub fn step_deferred<S, E>(&mut self, state: &mut S, frontier: Option<u64>, mut copy: E) -> Result<()>
    where
        S: CheckpointedState,
        E: FnMut(&mut S) -> Result<Box<dyn FnOnce() -> Result<(Vec<u8>, u64)> + Send>>,
    {
        self.step_with(state, frontier, |state| Ok(Payload::Deferred(copy(state)?)))
    }

    fn step_with<S: CheckpointedState>(
        &mut self,
        state: &mut S,
        frontier: Option<u64>,
        mut take: impl FnMut(&mut S) -> Result<Payload>,
    ) -> Result<()> {
        let Some(participant) = self.participant.as_mut() else { return Ok(()) };
        if self.ended {
            return Ok(());
        }
        participant.refresh();
        let uid = self.uid.get();
        while let Some(next) = participant.next() {
            if frontier.is_some_and(|frontier| frontier < next.time) {
                break;
            }
            let payload = take(state)?;
            participant.submit_part(next.id, &uid, state.kind(), Some(state.version()), payload, Vec::new());
        }
        if frontier.is_none() {
            self.ended = true;
            let payload = take(state)?;
            participant.submit_part(FINAL, &uid, state.kind(), Some(state.version()), payload, Vec::new());
        }
        Ok(())
    }

    pub(crate) fn uid_slot(&self) -> Rc<UidSlot> {
        Rc::clone(&self.uid)
    }
}

impl<'scope, T: Clone + 'static> DataStream<'scope, T> {
    /// Wraps a timely stream built on `env`'s scope: the counterpart of
    /// [`DataStream::into_timely`]. Records must carry their logical time as their message
    /// time, and a record's event time in `Record::timestamp` (see `docs/architecture.md`).
    pub fn from_timely(env: &Env<'scope>, stream: RecordStream<'scope, T>) -> Self {
        DataStream::from_stream(env.stream_context(), stream)
    }

    /// As [`DataStream::from_timely`], for the output of a stateful operator: the stream's
    /// [`DataStream::uid`] names `operator`'s state in checkpoints.
    pub fn from_stateful(
        env: &Env<'scope>,
        stream: RecordStream<'scope, T>,
        operator: &StatefulOperator,
    ) -> Self {
        DataStream::from_stream(env.stream_context(), stream).with_uid(operator.uid_slot())
    }

    /// The environment of the worker building this stream, to build operators on its scope.
    pub fn env(&self) -> Env<'scope> {
        self.context.env()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::checkpoint::control::Control;

    struct Empty;

    impl CheckpointedState for Empty {
        fn kind(&self) -> PartKind {
            PartKind::custom("test-empty").unwrap()
        }
        fn version(&self) -> u32 {
            1
        }
        fn snapshot(&mut self) -> Result<Snapshot> {
            Ok(Snapshot::new(Vec::new(), 0))
        }
        fn restore(&mut self, _restored: &RestoredState<'_>) -> Result<()> {
            Ok(())
        }
    }

    /// A checkpoint announced after the input ended is answered by the final part: the operator
    /// owes nothing and holds nothing back (an operator looping until nothing is owed would
    /// otherwise spin forever).
    #[test]
    fn after_the_final_part_nothing_is_owed() {
        let (sender, parts) = std::sync::mpsc::channel();
        let control = Arc::new(Control::new(sender, None, "run".into()));
        let mut operator = StatefulOperator {
            shared: Arc::new(JobShared::new()),
            uid: Rc::new(UidSlot {
                generated: "empty-0".into(),
                user: RefCell::new(None),
                address: RefCell::default(),
            }),
            participant: Some(control.participant(0)),
            worker_index: 0,
            workers: 1,
            restored: false,
            ended: false,
        };
        assert!(control.trigger_at(1, 10));
        assert_eq!(operator.hold_from(), Some(10));
        operator.step(&mut Empty, Some(10)).unwrap();
        assert_eq!(operator.hold_from(), None);
        operator.step(&mut Empty, None).unwrap();
        assert!(control.trigger_at(2, 20));
        assert_eq!(operator.hold_from(), None, "the final part answers checkpoint 2");
        operator.step(&mut Empty, None).unwrap();
        assert_eq!(parts.try_iter().count(), 2, "checkpoint 1 and the final part, nothing more");
    }
}
