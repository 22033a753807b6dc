//! Sinks: the [`Sink`] and [`SinkWriter`] traits connectors implement, and the sink operator.
//!
//! Each worker writes its own records through its own writer (no exchange), fused with any
//! element-wise stages before it. When the input ends the writer is finished; when the job
//! fails the writer is dropped without finishing, and must keep what it already wrote intact
//! (whole records only). Two-phase commit joins this interface with checkpoints.

use std::fmt::Debug;
use std::io::Write;

use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use crate::error::{Error, Result};
use crate::stream::DataStream;

/// Which part of a sink a worker writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkContext {
    /// This worker's index.
    pub worker_index: usize,
    /// Number of workers in the job.
    pub workers: usize,
}

/// A destination for records.
pub trait Sink<T> {
    /// A short name for logs and operator names.
    fn name(&self) -> String;
    /// Opens this worker's writer (called on the worker's first activation).
    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>>;
}

/// Writes one worker's records.
pub trait SinkWriter<T> {
    /// Writes one record with its event time and the logical time (watermark) of the
    /// message that carried it. Two-phase-commit sinks stage records by logical time.
    fn write(&mut self, value: T, timestamp: u64, logical_time: u64) -> Result<()>;
    /// The input has ended: make everything written durable and visible.
    fn finish(&mut self) -> Result<()>;
}

impl<'scope, T: Clone + 'static> DataStream<'scope, T> {
    /// Writes the stream to `sink`.
    pub fn sink(self, sink: impl Sink<T> + 'static) {
        let scope = self.context.scope;
        let runtime = self.context.runtime.clone();
        let context = SinkContext { worker_index: scope.index(), workers: scope.peers() };
        let mut builder = OperatorBuilder::new(format!("Sink({})", sink.name()), scope);
        let mut driver = self.into_chain().attach(&mut builder);
        builder.build(move |_capabilities| {
            let mut writer: Option<Box<dyn SinkWriter<T>>> = None;
            let mut finished = false;
            move |frontiers| {
                if finished || runtime.shared.failed() {
                    return;
                }
                if writer.is_none() {
                    match sink.writer(&context) {
                        Ok(opened) => writer = Some(opened),
                        Err(error) => {
                            runtime.shared.fail(error);
                            return;
                        }
                    }
                }
                let Some(active) = writer.as_mut() else { return };
                let mut result: Result<()> = Ok(());
                driver(&mut |capability, batch| {
                    let logical_time = capability.least().copied().unwrap_or(0);
                    for record in batch.drain(..) {
                        if result.is_ok() {
                            result = active.write(record.value, record.timestamp, logical_time);
                        }
                    }
                });
                if result.is_ok() && frontiers[0].is_empty() {
                    finished = true;
                    result = active.finish();
                }
                if let Err(error) = result {
                    runtime.shared.fail(error);
                }
            }
        });
    }

    /// Prints every value to standard output as `<worker>> <value:?>` (like Flink's `print()`).
    pub fn print(self)
    where
        T: Debug,
    {
        self.sink(PrintSink);
    }
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
        writeln!(std::io::stdout().lock(), "{}> {:?}", self.worker_index, value)
            .map_err(|error| Error::io("writing to standard output", error))
    }
    fn finish(&mut self) -> Result<()> {
        std::io::stdout().flush().map_err(|error| Error::io("flushing standard output", error))
    }
}
