//! Sources: the [`Source`] and [`SplitReader`] traits connectors implement, and the source
//! operator that turns splits into a watermarked stream (design.md sections 3.1 and 7).
//!
//! # Event time
//! The operator keeps one watermark per split (see [`crate::watermark`]) and carries every
//! record at its split's watermark. Its timely capability sits at the minimum watermark of the
//! unfinished splits, so the job's frontier is the minimum over all splits of all workers. It
//! reads from the split with the lowest watermark first, which keeps splits close together in
//! event time. When every split has ended, the capability is dropped; when all sources of the
//! job have ended, downstream frontiers become empty and all pending timers fire.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::checkpoint::control::Participant;
use crate::checkpoint::part::{PartKind, FINAL};
use crate::error::{Error, Result};
use crate::hash::{key_hash, mix};
use crate::record::{Data, Record};
use crate::runtime::Env;
use crate::runtime::UidSlot;
use crate::side_output::{OutputTag, SideRecord};
use crate::stream::DataStream;
use crate::time::Clock;
use crate::watermark::{SplitWatermarkState, SplitWatermarks, WatermarkStrategy};

/// Which part of a source a worker reads, and the job's clock.
#[derive(Clone)]
pub struct SplitContext {
    /// This worker's index.
    pub worker_index: usize,
    /// Number of workers in the job.
    pub workers: usize,
    /// The job's processing-time clock (for sources that pace themselves or poll on time).
    pub clock: Arc<dyn Clock>,
}

/// A source of records: a set of splits (files, partitions) spread over the workers.
pub trait Source<T> {
    /// A short name for logs and operator names.
    fn name(&self) -> String;
    /// The splits this worker reads. Every split must be read by exactly one worker, and the
    /// assignment must depend only on `context`, so that runs are reproducible.
    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<T>>>>;

    /// How often to look for new splits (such as partitions added to a topic) while the job
    /// runs; `None` (the default) never looks.
    fn discovery_interval(&self) -> Option<Duration> {
        None
    }

    /// Splits that appeared since this worker's splits were opened and that this worker must
    /// read; `known` names the splits it already reads. The assignment rule must give every new
    /// split to exactly one worker, whichever worker sees it first. A new split starts at the
    /// source's current watermark.
    fn discover(&self, _context: &SplitContext, _known: &[String]) -> Result<Vec<Box<dyn SplitReader<T>>>> {
        Ok(Vec::new())
    }

    /// On restore, before this worker's splits resume: every split of the checkpoint at
    /// `checkpoint` (those of all workers). Returns the splits to resume under another id
    /// (checkpointed id -> current id), such as a file renamed since; an error fails the
    /// restore (such as a split that changed or is gone). The default renames nothing.
    fn reconcile_restored(
        &self,
        _context: &SplitContext,
        _checkpoint: &std::path::Path,
        _splits: &[RestoredSplit<'_>],
    ) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }

    /// Whether this source sends bad records to [`DEAD_LETTERS`] rather than failing the job.
    /// The source operator makes the same choice for a record whose event time is outside
    /// [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE); with `false` (the default)
    /// such a record fails the job.
    fn sends_bad_records_to_dead_letters(&self) -> bool {
        false
    }
}

/// A split as a checkpoint being restored recorded it (see [`Source::reconcile_restored`]).
#[derive(Clone, Copy, Debug)]
pub struct RestoredSplit<'a> {
    /// The split's id when the checkpoint was taken.
    pub id: &'a str,
    /// Whether the split had ended.
    pub finished: bool,
    /// Its position (also recorded for ended splits since checkpoints carry identities;
    /// `None` for ended splits in older checkpoints).
    pub position: Option<&'a serde_json::Value>,
}

/// What a split reader reports after a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStatus {
    /// More records are available now.
    More,
    /// No record is available now; more may come later (unbounded input).
    Pending,
    /// The split has ended.
    Finished,
}

/// Reads one split.
pub trait SplitReader<T> {
    /// A stable name of the split (e.g. the file path), used in record tags and errors.
    fn split_id(&self) -> &str;
    /// Reads up to `max_records` records into `output`. An `Err` fails the job.
    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus>;
    /// The position after the last record read, to resume from after a failure (for a file,
    /// the byte offset and line number). `None` (the default) means the reader cannot resume;
    /// a job with checkpoints then fails with an error naming the source.
    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }
    /// Resumes after the position returned by [`snapshot_position`](Self::snapshot_position)
    /// in an earlier run: the next read returns the record after it. Called before any read.
    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        Err(crate::error::Error::Checkpoint(format!(
            "split `{}` cannot resume from a checkpoint (position {position})",
            self.split_id()
        )))
    }

    /// A checkpoint that recorded this split at `position` (as returned by
    /// [`snapshot_position`](Self::snapshot_position)) is complete: the reader may tell an
    /// external system, as the Kafka source commits offsets to its consumer group for
    /// monitoring. The checkpoint, not that system, stays the source of truth.
    fn checkpoint_complete(&mut self, _position: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// A split in a source's checkpoint part.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SplitState {
    #[serde(default)]
    finished: bool,
    #[serde(default)]
    position: Option<serde_json::Value>,
    watermarks: SplitWatermarkState,
}

/// A source's checkpoint part (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SourcePart {
    version: u32,
    splits: BTreeMap<String, SplitState>,
}

/// A record that could not be parsed, routed to the [`DEAD_LETTERS`] side output instead of
/// failing the job (when the source is configured to skip bad records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The split (file) the record came from.
    pub split: String,
    /// 1-based line number.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
    /// The raw text of the record.
    pub raw: String,
}

/// The side output of a source stream carrying its [`DeadLetter`]s.
pub const DEAD_LETTERS: OutputTag<DeadLetter> = OutputTag::new("dead-letters");

/// Where a split reader puts what it read.
pub struct SplitOutput<T> {
    records: Vec<(u64, T)>,
    dead_letters: Vec<DeadLetter>,
}

impl<T> Default for SplitOutput<T> {
    fn default() -> Self {
        SplitOutput { records: Vec::new(), dead_letters: Vec::new() }
    }
}

impl<T> SplitOutput<T> {
    /// Adds a record read at `position` (a line number, an offset): positions must be unique
    /// within the split and identical on every run, as they identify the record.
    pub fn push(&mut self, position: u64, value: T) {
        self.records.push((position, value));
    }

    /// Adds a bad record.
    pub fn dead_letter(&mut self, dead_letter: DeadLetter) {
        self.dead_letters.push(dead_letter);
    }

    /// Takes the records (with their positions) and bad records pushed so far: for tests of
    /// split readers and for readers that wrap others.
    pub fn take(&mut self) -> (Vec<(u64, T)>, Vec<DeadLetter>) {
        (std::mem::take(&mut self.records), std::mem::take(&mut self.dead_letters))
    }

    /// How many records were pushed since the last drain.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record was pushed since the last drain.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

struct OpenSplit<T> {
    reader: Box<dyn SplitReader<T>>,
    split_hash: u64,
    watermarks: SplitWatermarks<T>,
    finished: bool,
}

impl<T> OpenSplit<T> {
    fn state(&self, source: &str) -> Result<SplitState> {
        let position = if self.finished {
            // Best effort, for `Source::reconcile_restored` (a file's identity); never resumed.
            self.reader.snapshot_position().ok().flatten()
        } else {
            Some(self.reader.snapshot_position()?.ok_or_else(|| {
                Error::Checkpoint(format!(
                    "source `{source}`: split `{}` cannot be checkpointed (its reader keeps no position)",
                    self.reader.split_id()
                ))
            })?)
        };
        Ok(SplitState { finished: self.finished, position, watermarks: self.watermarks.snapshot() })
    }
}

/// A source's side of checkpoints: it records each split's state as the split's watermark
/// moves to a checkpoint's time, and submits the part once every split has.
struct SourceCheckpoints {
    participant: Participant,
    uid: Rc<UidSlot>,
    name: String,
    claimed: u64,
    recording: BTreeMap<u64, BTreeMap<String, SplitState>>,
    /// Positions of submitted checkpoints, until they complete.
    submitted: BTreeMap<u64, BTreeMap<String, serde_json::Value>>,
    ended: bool,
}

impl SourceCheckpoints {
    /// Puts back the restored state of the splits this worker reads.
    fn restore<T>(
        &mut self,
        splits: &mut [OpenSplit<T>],
        reconcile: impl FnOnce(&std::path::Path, &[RestoredSplit<'_>]) -> Result<BTreeMap<String, String>>,
    ) -> Result<()> {
        let Some(restored) = self.participant.restored() else { return Ok(()) };
        let uid = self.uid.get();
        let Some(operator) = restored.operator(&uid) else { return Ok(()) };
        let mut states = BTreeMap::new();
        for (_, bytes) in &operator.parts {
            let part: SourcePart = serde_json::from_slice(bytes).map_err(|error| {
                Error::Checkpoint(format!("source `{uid}`: unreadable checkpoint part: {error}"))
            })?;
            states.extend(part.splits);
        }
        let listed: Vec<RestoredSplit<'_>> = states
            .iter()
            .map(|(id, state)| RestoredSplit {
                id,
                finished: state.finished,
                position: state.position.as_ref(),
            })
            .collect();
        let renames = reconcile(&restored.path, &listed)?;
        for (old, new) in renames {
            if states.contains_key(&new) {
                return Err(Error::Internal(format!(
                    "source `{uid}`: split `{old}` renamed to `{new}`, which the checkpoint also holds"
                )));
            }
            if let Some(state) = states.remove(&old) {
                states.insert(new, state);
            }
        }
        for split in splits {
            let Some(state) = states.remove(split.reader.split_id()) else { continue };
            split.watermarks.restore(state.watermarks);
            if state.finished {
                split.finished = true;
            } else if let Some(position) = state.position {
                split.reader.restore_position(position)?;
            }
        }
        Ok(())
    }

    /// Records `split`'s state for every owed checkpoint whose time it has reached (all of
    /// them with `force`).
    fn record<T>(&mut self, split: &OpenSplit<T>, force: bool) -> Result<()> {
        let owed = self.participant.owed().to_vec();
        for pending in owed {
            let states = self.recording.entry(pending.id).or_default();
            let id = split.reader.split_id();
            if !states.contains_key(id)
                && (force || split.finished || split.watermarks.watermark() >= pending.time)
            {
                states.insert(id.to_owned(), split.state(&self.name)?);
            }
        }
        Ok(())
    }

    /// Before reading from `split`: claims the time its records will carry, then records it
    /// for checkpoints it has reached.
    fn before_read<T>(&mut self, split: &OpenSplit<T>) -> Result<()> {
        let time = split.watermarks.watermark();
        if time > self.claimed {
            self.claimed = time;
            self.participant.claim(time);
        }
        self.record(split, false)
    }

    /// Submits the parts of owed checkpoints that every split has recorded.
    fn submit_ready(&mut self, splits: usize) -> Result<()> {
        while let Some(next) = self.participant.next() {
            if self.recording.get(&next.id).map_or(0, BTreeMap::len) < splits {
                break;
            }
            let states = self.recording.remove(&next.id).unwrap_or_default();
            self.submit(next.id, states)?;
        }
        Ok(())
    }

    fn submit(&mut self, checkpoint: u64, splits: BTreeMap<String, SplitState>) -> Result<()> {
        if checkpoint != FINAL {
            let positions = splits
                .iter()
                .filter(|(_, state)| !state.finished)
                .filter_map(|(id, state)| Some((id.clone(), state.position.clone()?)))
                .collect();
            self.submitted.insert(checkpoint, positions);
        }
        let entries = splits.len() as u64;
        let part = SourcePart { version: 1, splits };
        let bytes = serde_json::to_vec(&part).map_err(|error| Error::Internal(error.to_string()))?;
        self.participant.submit(checkpoint, &self.uid.get(), PartKind::Source, bytes, entries);
        Ok(())
    }

    /// Tells the readers about checkpoints completed since the last call.
    fn notify_complete<T>(&mut self, splits: &mut [OpenSplit<T>]) -> Result<()> {
        let Some(completed) = self.participant.take_completed() else { return Ok(()) };
        while let Some(entry) = self.submitted.first_entry() {
            if *entry.key() > completed {
                break;
            }
            let positions = entry.remove();
            for split in splits.iter_mut() {
                if let Some(position) = positions.get(split.reader.split_id()) {
                    split.reader.checkpoint_complete(position)?;
                }
            }
        }
        Ok(())
    }

    /// The source has ended (input exhausted, or stopped): completes every owed checkpoint and
    /// submits the final part.
    fn end<T>(&mut self, splits: &[OpenSplit<T>]) -> Result<()> {
        if std::mem::replace(&mut self.ended, true) {
            return Ok(());
        }
        self.participant.refresh();
        for split in splits {
            self.record(split, true)?;
        }
        self.submit_ready(splits.len())?;
        let mut states = BTreeMap::new();
        for split in splits {
            states.insert(split.reader.split_id().to_owned(), split.state(&self.name)?);
        }
        self.submit(FINAL, states)
    }
}

/// Records read per activation before the operator yields to others.
const READ_BUDGET: usize = 8192;
/// How often to poll splits that have nothing to read yet.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often a source paused by watermark alignment checks its group again.
const ALIGNMENT_POLL: Duration = Duration::from_millis(1);

impl<'scope> Env<'scope> {
    /// A stream reading `source`, with event times and watermarks from `strategy`.
    ///
    /// Bad records reported by the source appear on the [`DEAD_LETTERS`] side output.
    pub fn from_source<T: Data>(
        &mut self,
        source: impl Source<T> + 'static,
        strategy: WatermarkStrategy<T>,
    ) -> DataStream<'scope, T> {
        let context = self.stream_context();
        let runtime = self.runtime();
        let uid = context.new_uid("source");
        let mut checkpoints = context.participant().map(|participant| SourceCheckpoints {
            participant,
            uid: Rc::clone(&uid),
            name: source.name(),
            claimed: 0,
            recording: BTreeMap::new(),
            submitted: BTreeMap::new(),
            ended: false,
        });
        let source_id = key_hash(&source.name());
        let dead_letters = source.sends_bad_records_to_dead_letters();
        let split_context =
            SplitContext { worker_index: self.worker_index(), workers: self.workers(), clock: self.clock() };
        let mut builder = OperatorBuilder::new(format!("Source({})", source.name()), self.scope);
        let info = builder.operator_info();
        uid.bind(&info.address);
        let activator = self.scope.activator_for(info.address);
        let (main_output, main_stream) = builder.new_output::<Vec<Record<T>>>();
        let (side_output, side_stream) = builder.new_output::<Vec<Record<SideRecord>>>();
        let mut main_output = OutputBuilder::from(main_output);
        let mut side_output = OutputBuilder::from(side_output);
        let alignment = strategy.alignment.as_ref().map(|(group, max_drift)| {
            let group = runtime.shared.alignment_group(group);
            let member = group.join();
            (group, member, *max_drift)
        });
        let progress_member = runtime.shared.source_watermarks.join();
        builder.build(move |mut capabilities| {
            let side_capability = capabilities.pop();
            let main_capability = capabilities.pop();
            let mut capabilities: Option<(Capability<u64>, Capability<u64>)> =
                main_capability.zip(side_capability);
            let mut splits: Option<Vec<OpenSplit<T>>> = None;
            let mut output = SplitOutput::default();
            let mut batch: Vec<Record<T>> = Vec::new();
            let follow_clock = strategy.is_ingestion_time();
            let discovery = source.discovery_interval();
            let mut next_discovery = 0u64;
            move |_frontiers| {
                let Some((main_capability, side_capability)) = capabilities.as_mut() else {
                    if let Some((group, member, _)) = &alignment {
                        group.publish(*member, u64::MAX);
                    }
                    runtime.shared.source_watermarks.publish(progress_member, u64::MAX);
                    return;
                };
                let shared = &runtime.shared;
                if shared.failed() || shared.halted() {
                    capabilities = None;
                    return;
                }
                if shared.stop_requested() {
                    let ended = match (checkpoints.as_mut(), splits.as_deref()) {
                        (Some(checkpoints), Some(splits)) => checkpoints.end(splits),
                        (Some(checkpoints), None) => checkpoints.end::<T>(&[]),
                        (None, _) => Ok(()),
                    };
                    if let Err(error) = ended {
                        shared.fail(error);
                    }
                    capabilities = None;
                    activator.activate();
                    return;
                }
                let splits = match &mut splits {
                    Some(splits) => splits,
                    None => {
                        let opened = source.splits(&split_context).and_then(|readers| {
                            let mut opened: Vec<OpenSplit<T>> = readers
                                .into_iter()
                                .map(|reader| OpenSplit {
                                    split_hash: mix(source_id, key_hash(reader.split_id())),
                                    reader,
                                    watermarks: strategy.new_split_watermarks(),
                                    finished: false,
                                })
                                .collect();
                            if let Some(checkpoints) = checkpoints.as_mut() {
                                checkpoints.restore(&mut opened, |checkpoint, restored| {
                                    source.reconcile_restored(&split_context, checkpoint, restored)
                                })?;
                            }
                            Ok(opened)
                        });
                        match opened {
                            Ok(opened) => splits.insert(opened),
                            Err(error) => {
                                shared.fail(error);
                                capabilities = None;
                                return;
                            }
                        }
                    }
                };
                if let Some(interval) = discovery {
                    let now = runtime.clock.now_ms();
                    if now >= next_discovery && !shared.stop_requested() {
                        next_discovery = now.saturating_add(interval.as_millis() as u64);
                        let known: Vec<String> =
                            splits.iter().map(|split| split.reader.split_id().to_owned()).collect();
                        match source.discover(&split_context, &known) {
                            Ok(found) => {
                                for reader in found {
                                    let mut watermarks = strategy.new_split_watermarks();
                                    watermarks.start_at(*main_capability.time());
                                    splits.push(OpenSplit {
                                        split_hash: mix(source_id, key_hash(reader.split_id())),
                                        reader,
                                        watermarks,
                                        finished: false,
                                    });
                                }
                            }
                            Err(error) => {
                                shared.fail(error);
                                capabilities = None;
                                return;
                            }
                        }
                    }
                }
                if let Some(checkpoints) = checkpoints.as_mut() {
                    if let Err(error) = checkpoints.notify_complete(splits) {
                        shared.fail(error);
                        capabilities = None;
                        return;
                    }
                    checkpoints.participant.refresh();
                    for split in splits.iter() {
                        if let Err(error) = checkpoints.record(split, false) {
                            shared.fail(error);
                            capabilities = None;
                            return;
                        }
                    }
                }
                let now = runtime.clock.now_ms();
                let mut order: Vec<usize> =
                    (0..splits.len()).filter(|&index| !splits[index].finished).collect();
                order.sort_by_key(|&index| (splits[index].watermarks.watermark(), index));
                // Watermark alignment: too far ahead of the group's slowest member, read nothing.
                let own_low = order.first().map(|&index| splits[index].watermarks.watermark());
                let mut budget = match (&alignment, own_low) {
                    (Some((group, member, max_drift)), Some(low)) => {
                        let group_low = group.publish(*member, low);
                        if low > group_low.saturating_add(*max_drift) {
                            0
                        } else {
                            READ_BUDGET
                        }
                    }
                    _ => READ_BUDGET,
                };
                let paused = budget == 0;
                let mut more_available = false;
                let mut main = main_output.activate();
                let mut side = side_output.activate();
                for index in order {
                    if budget == 0 {
                        more_available = !paused;
                        break;
                    }
                    let split = &mut splits[index];
                    let mut limit = budget;
                    if let Some(checkpoints) = checkpoints.as_mut() {
                        // The watermark then moves only between reads, where positions are known.
                        limit = limit.min(split.watermarks.records_until_emit());
                        if let Err(error) = checkpoints.before_read(split) {
                            shared.fail(error);
                            capabilities = None;
                            return;
                        }
                    }
                    let status = match split.reader.read(&mut output, limit) {
                        Ok(status) => status,
                        Err(error) => {
                            shared.fail(error);
                            capabilities = None;
                            return;
                        }
                    };
                    budget = budget.saturating_sub(output.records.len());
                    if crate::checkpoint::failpoint_hit("worker-panic") {
                        panic!("failpoint `worker-panic` hit in source `{}`", split.reader.split_id());
                    }
                    shared
                        .records_read
                        .fetch_add(output.records.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let mut batch_time = None;
                    for (position, value) in output.records.drain(..) {
                        let timestamp = match strategy.event_time(&value, now) {
                            Ok(timestamp) => timestamp,
                            Err(reason) if dead_letters => {
                                let split = split.reader.split_id().to_owned();
                                let raw = crate::error::describe(&value);
                                output.dead_letters.push(DeadLetter { split, line: position, reason, raw });
                                shared.records_read.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                                continue;
                            }
                            Err(reason) => {
                                let path = split.reader.split_id().into();
                                shared.fail(Error::BadRecord { path, line: position, reason });
                                capabilities = None;
                                return;
                            }
                        };
                        let time = split.watermarks.on_record(&value, timestamp, now);
                        if batch_time.is_some_and(|current| current != time) && !batch.is_empty() {
                            let capability = main_capability.delayed(&batch_time.unwrap_or(time));
                            main.session(&capability).give_container(&mut batch);
                            batch.clear();
                        }
                        batch_time = Some(time);
                        batch.push(Record::new(timestamp, mix(split.split_hash, position), value));
                    }
                    if let (Some(time), false) = (batch_time, batch.is_empty()) {
                        let capability = main_capability.delayed(&time);
                        main.session(&capability).give_container(&mut batch);
                        batch.clear();
                    }
                    if !output.dead_letters.is_empty() {
                        let time = split.watermarks.watermark();
                        let capability = side_capability.delayed(&time);
                        let mut session = side.session(&capability);
                        shared.dead_letters.fetch_add(
                            output.dead_letters.len() as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        );
                        for dead_letter in output.dead_letters.drain(..) {
                            let tag = mix(split.split_hash, dead_letter.line.wrapping_neg());
                            session.give(Record::new(time, tag, SideRecord::new(&DEAD_LETTERS, dead_letter)));
                        }
                    }
                    match status {
                        ReadStatus::More => more_available = true,
                        ReadStatus::Pending => {}
                        ReadStatus::Finished => split.finished = true,
                    }
                }
                drop((main, side));
                for split in splits.iter_mut().filter(|split| !split.finished) {
                    split.watermarks.on_tick(now, follow_clock);
                }
                if let Some(checkpoints) = checkpoints.as_mut() {
                    let recorded = splits
                        .iter()
                        .filter(|split| split.finished)
                        .try_for_each(|split| checkpoints.record(split, false))
                        .and_then(|()| checkpoints.submit_ready(splits.len()));
                    if let Err(error) = recorded {
                        shared.fail(error);
                        capabilities = None;
                        return;
                    }
                }
                let Some(low) =
                    splits.iter().filter(|split| !split.finished).map(|s| s.watermarks.watermark()).min()
                else {
                    if let Some(checkpoints) = checkpoints.as_mut() {
                        if let Err(error) = checkpoints.end(splits) {
                            shared.fail(error);
                        }
                    }
                    capabilities = None;
                    activator.activate();
                    return;
                };
                if let Some((group, member, _)) = &alignment {
                    group.publish(*member, low);
                }
                if low > *main_capability.time() {
                    shared.source_watermarks.publish(progress_member, low);
                    main_capability.downgrade(&low);
                    side_capability.downgrade(&low);
                }
                if more_available {
                    activator.activate();
                } else if paused {
                    activator.activate_after(ALIGNMENT_POLL);
                } else {
                    let idle_check = splits
                        .iter()
                        .filter(|split| !split.finished)
                        .filter_map(|split| split.watermarks.next_idle_check())
                        .filter(|&at| at > now)
                        .min()
                        .map(|at| runtime.clock.real_delay_until(at));
                    activator
                        .activate_after(idle_check.map_or(POLL_INTERVAL, |delay| delay.min(POLL_INTERVAL)));
                }
            }
        });
        DataStream::from_stream(context, main_stream).with_side(side_stream).with_uid(uid)
    }
}
