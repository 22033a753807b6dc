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

use crate::error::Result;
use crate::hash::{key_hash, mix};
use crate::job::Env;
use crate::record::{Data, Record};
use crate::side_output::{OutputTag, SideRecord};
use crate::stream::DataStream;
use crate::time::Clock;
use crate::watermark::{SplitWatermarks, Timestamps, WatermarkStrategy};

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
        let source_id = key_hash(&source.name());
        let split_context =
            SplitContext { worker_index: self.worker_index(), workers: self.workers(), clock: self.clock() };
        let mut builder = OperatorBuilder::new(format!("Source({})", source.name()), self.scope);
        let info = builder.operator_info();
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
        builder.build(move |mut capabilities| {
            let side_capability = capabilities.pop();
            let main_capability = capabilities.pop();
            let mut capabilities: Option<(Capability<u64>, Capability<u64>)> =
                main_capability.zip(side_capability);
            let mut splits: Option<Vec<OpenSplit<T>>> = None;
            let mut output = SplitOutput::default();
            let mut batch: Vec<Record<T>> = Vec::new();
            let follow_clock = strategy.is_ingestion_time();
            move |_frontiers| {
                let Some((main_capability, side_capability)) = capabilities.as_mut() else {
                    if let Some((group, member, _)) = &alignment {
                        group.publish(*member, u64::MAX);
                    }
                    return;
                };
                let shared = &runtime.shared;
                if shared.failed() || shared.stop_requested() {
                    capabilities = None;
                    activator.activate();
                    return;
                }
                let splits = match &mut splits {
                    Some(splits) => splits,
                    None => match source.splits(&split_context) {
                        Ok(readers) => splits.insert(
                            readers
                                .into_iter()
                                .map(|reader| OpenSplit {
                                    split_hash: mix(source_id, key_hash(reader.split_id())),
                                    reader,
                                    watermarks: strategy.new_split_watermarks(),
                                    finished: false,
                                })
                                .collect(),
                        ),
                        Err(error) => {
                            shared.fail(error);
                            capabilities = None;
                            return;
                        }
                    },
                };
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
                    let status = match split.reader.read(&mut output, budget) {
                        Ok(status) => status,
                        Err(error) => {
                            shared.fail(error);
                            capabilities = None;
                            return;
                        }
                    };
                    budget = budget.saturating_sub(output.records.len());
                    shared
                        .records_read
                        .fetch_add(output.records.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let mut batch_time = None;
                    for (position, value) in output.records.drain(..) {
                        let timestamp = match &strategy.timestamps {
                            Timestamps::Extract(extract) => extract(&value),
                            Timestamps::Ingestion => now,
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
                let Some(low) =
                    splits.iter().filter(|split| !split.finished).map(|s| s.watermarks.watermark()).min()
                else {
                    capabilities = None;
                    activator.activate();
                    return;
                };
                if let Some((group, member, _)) = &alignment {
                    group.publish(*member, low);
                }
                if low > *main_capability.time() {
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
        DataStream::from_stream(context, main_stream).with_side(side_stream)
    }
}
