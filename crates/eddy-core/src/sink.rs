//! Sinks: the [`Sink`] and [`SinkWriter`] traits connectors implement, and the sink operator.
//!
//! Each worker writes its own records through its own writer (no exchange), fused with any
//! element-wise stages before it. When the input ends the writer is finished; when the job
//! fails the writer is dropped without finishing, and must keep what it already wrote intact
//! (whole records only).
//!
//! # Two-phase commit
//! A sink with a [`Committer`] takes part in checkpoints when the job has them. For a
//! checkpoint at logical time `E`, once the sink's input frontier has passed `E`, every record
//! before `E` has been written and the writer *pre-commits* ([`SinkWriter::prepare_commit`]):
//! it makes them durable but invisible and returns [`Committable`]s, which go into the
//! checkpoint. Records at `E` or later that arrive meanwhile wait in memory. Once the
//! checkpoint is complete, the committer makes them visible. On restore the committer commits
//! what the restored checkpoint staged again (commits are idempotent) and removes what later,
//! failed attempts staged. At the end of the input the last records are committed only after
//! the final checkpoint is durable.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use crate::checkpoint::failpoint;
use crate::checkpoint::part::FINAL;
use crate::error::{Error, Result};
use crate::runtime::UidSlot;
use crate::stream::DataStream;

/// Which part of a sink a worker writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkContext {
    /// This worker's index.
    pub worker_index: usize,
    /// Number of workers in the job.
    pub workers: usize,
    /// With checkpoints: identifies this run of the job (unique per start or restore), for
    /// names of staged files that must not clash with those of earlier, failed runs.
    pub run_id: Option<String>,
}

pub use crate::checkpoint::commit::{Committable, Committer};

/// A destination for records.
pub trait Sink<T> {
    /// A short name for logs and operator names.
    fn name(&self) -> String;
    /// Opens this worker's writer (called on the worker's first activation).
    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>>;
    /// The committer of a two-phase-commit sink; `None` (the default) for sinks that make
    /// output visible as they write (at-least-once under checkpoints).
    fn committer(&self) -> Option<Arc<dyn Committer>> {
        None
    }
}

/// Writes one worker's records.
pub trait SinkWriter<T> {
    /// Writes one record with its event time and the logical time (watermark) of the
    /// message that carried it.
    fn write(&mut self, value: T, timestamp: u64, logical_time: u64) -> Result<()>;
    /// Two-phase-commit sinks: makes everything written so far durable but not visible, and
    /// returns what the committer must do to make it visible. Called once per checkpoint, and
    /// at the end of the input instead of [`finish`](Self::finish).
    fn prepare_commit(&mut self) -> Result<Vec<Committable>> {
        Ok(Vec::new())
    }
    /// The input has ended: make everything written durable and visible.
    fn finish(&mut self) -> Result<()>;
}

/// The sink at the end of a stream; name its state with [`uid`](Self::uid).
pub struct DataStreamSink {
    uid: Rc<UidSlot>,
}

impl DataStreamSink {
    /// Names the sink for checkpoints and savepoints (like Flink's `uid`).
    pub fn uid(self, uid: &str) -> Self {
        self.uid.set(uid);
        self
    }
}

impl<'scope, T: Clone + 'static> DataStream<'scope, T> {
    /// Writes the stream to `sink`.
    pub fn sink(self, sink: impl Sink<T> + 'static) -> DataStreamSink {
        let scope = self.context.scope;
        let runtime = self.context.runtime.clone();
        let uid = self.context.new_uid("sink");
        let committer = sink.committer();
        let mut participant = match committer {
            Some(_) => self.context.participant(),
            None => None,
        };
        let context = SinkContext {
            worker_index: scope.index(),
            workers: scope.peers(),
            run_id: participant.as_ref().map(|participant| participant.control().run_id.clone()),
        };
        let mut builder = OperatorBuilder::new(format!("Sink({})", sink.name()), scope);
        uid.bind(&builder.operator_info().address);
        let mut driver = self.into_chain().attach(&mut builder);
        let slot = Rc::clone(&uid);
        builder.build(move |_capabilities| {
            let mut writer: Option<Box<dyn SinkWriter<T>>> = None;
            let mut finished = false;
            // Records at or after the next checkpoint's time, by logical time.
            let mut held: BTreeMap<u64, Vec<(T, u64)>> = BTreeMap::new();
            move |frontiers| {
                if finished || runtime.shared.failed() {
                    return;
                }
                if writer.is_none() {
                    if let (Some(participant), Some(committer)) = (participant.as_mut(), committer.as_ref()) {
                        let uid = slot.get();
                        participant.control().register_committer(&uid, Arc::clone(committer));
                        if participant.worker == 0 {
                            if let Err(error) = recover(participant, committer.as_ref(), &uid) {
                                runtime.shared.fail(error);
                                return;
                            }
                        }
                    }
                    match sink.writer(&context) {
                        Ok(opened) => writer = Some(opened),
                        Err(error) => {
                            runtime.shared.fail(error);
                            return;
                        }
                    }
                }
                let Some(active) = writer.as_mut() else { return };
                if let Some(participant) = participant.as_mut() {
                    participant.refresh();
                }
                let hold_from =
                    participant.as_ref().and_then(|participant| participant.next()).map(|next| next.time);
                let mut result: Result<()> = Ok(());
                driver(&mut |capability, batch| {
                    runtime
                        .shared
                        .records_out
                        .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let logical_time = capability.least().copied().unwrap_or(0);
                    if hold_from.is_some_and(|from| logical_time >= from) {
                        let slot = held.entry(logical_time).or_default();
                        slot.extend(batch.drain(..).map(|record| (record.value, record.timestamp)));
                        return;
                    }
                    for record in batch.drain(..) {
                        if result.is_ok() {
                            result = active.write(record.value, record.timestamp, logical_time);
                        }
                    }
                });
                let frontier = frontiers[0].frontier().iter().next().copied();
                if let (Ok(()), Some(participant)) = (&result, participant.as_mut()) {
                    result = (|| {
                        let uid = slot.get();
                        while let Some(next) = participant.next() {
                            if frontier.is_some_and(|frontier| frontier < next.time) {
                                break;
                            }
                            let committables = active.prepare_commit()?;
                            participant.submit_staged(next.id, &uid, committables)?;
                            let bound = participant.next().map_or(u64::MAX, |next| next.time);
                            while let Some(entry) = held.first_entry() {
                                if *entry.key() >= bound {
                                    break;
                                }
                                let (logical_time, records) = entry.remove_entry();
                                for (value, timestamp) in records {
                                    active.write(value, timestamp, logical_time)?;
                                }
                            }
                        }
                        Ok(())
                    })();
                }
                if result.is_ok() && frontier.is_none() {
                    finished = true;
                    result = match participant.as_mut() {
                        Some(participant) => active.prepare_commit().and_then(|committables| {
                            participant.submit_staged(FINAL, &slot.get(), committables)
                        }),
                        None => active.finish(),
                    };
                }
                if let Err(error) = result {
                    runtime.shared.fail(error);
                }
            }
        });
        DataStreamSink { uid }
    }

    /// Prints every value to standard output as `<worker>> <value:?>` (like Flink's `print()`).
    pub fn print(self) -> DataStreamSink
    where
        T: Debug,
    {
        self.sink(PrintSink)
    }
}

/// Commits what the restored checkpoint staged for sink `uid` and clears what other runs left.
fn recover(
    participant: &crate::checkpoint::control::Participant,
    committer: &dyn Committer,
    uid: &str,
) -> Result<()> {
    let mut committables: Vec<Committable> = Vec::new();
    if let Some(restored) = participant.restored() {
        failpoint("restore");
        if let Some(operator) = restored.operator(uid) {
            for (_, bytes) in &operator.parts {
                let staged: Vec<Committable> = serde_json::from_slice(bytes).map_err(|error| {
                    Error::Checkpoint(format!(
                        "sink `{uid}`: unreadable committables in the checkpoint: {error}"
                    ))
                })?;
                committables.extend(staged);
            }
        }
    }
    committer.recover(&committables, &participant.control().run_id)
}

/// Prints values with their worker index to standard output.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrintSink;

struct PrintWriter {
    worker_index: usize,
}

impl<T: Debug> Sink<T> for PrintSink {
    fn name(&self) -> String {
        "print".into()
    }
    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>> {
        Ok(Box::new(PrintWriter { worker_index: context.worker_index }))
    }
}

impl<T: Debug> SinkWriter<T> for PrintWriter {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        writeln!(std::io::stdout().lock(), "{}> {:?}", self.worker_index, value).map_err(|error| {
            exit_if_broken_pipe(&error);
            Error::io("writing to standard output", error)
        })
    }
    fn finish(&mut self) -> Result<()> {
        std::io::stdout().flush().map_err(|error| {
            exit_if_broken_pipe(&error);
            Error::io("flushing standard output", error)
        })
    }
}

/// Ends the process quietly (status 0) when `error` says standard output was closed by its
/// reader (`eddy ... | head`), as a Unix tool killed by `SIGPIPE` would, instead of failing
/// with "Broken pipe". Rust ignores `SIGPIPE`, so writes see `EPIPE` instead.
pub fn exit_if_broken_pipe(error: &std::io::Error) {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}
