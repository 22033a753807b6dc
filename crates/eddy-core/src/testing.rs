//! A single-worker harness that runs a dataflow step by step, for conformance runners and
//! operator tests: push records at the current watermark, advance the watermark, move the
//! processing-time clock, and read what came out after each step.
//!
//! The harness applies records in arrival order ([`RecordOrder::Arrival`]), as Flink's
//! operator test harness does, so each record takes effect at the step that pushed it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use timely::communication::allocator::thread::Thread;
use timely::communication::Allocator;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::core::input::Handle as InputHandle;
use timely::dataflow::operators::core::probe::Handle as ProbeHandle;
use timely::dataflow::operators::{Input, Probe};
use timely::worker::Worker;
use timely::WorkerConfig;

use crate::error::Result;
use crate::job::{Env, JobShared, RecordOrder};
use crate::record::{Data, Record};
use crate::sink::{Sink, SinkContext, SinkWriter};
use crate::stream::DataStream;
use crate::time::ManualClock;

type Collected<T> = Rc<RefCell<Vec<(T, u64)>>>;

/// Drives a dataflow built by [`run_harness`].
pub struct HarnessDriver<'w, I: Clone + 'static, O, L> {
    worker: &'w mut Worker,
    input: InputHandle<u64, CapacityContainerBuilder<Vec<Record<I>>>>,
    probe: ProbeHandle<u64>,
    clock: ManualClock,
    output: Collected<O>,
    late: Collected<L>,
    position: u64,
}

impl<I: Data, O, L> HarnessDriver<'_, I, O, L> {
    /// Sends a record with event time `timestamp` at the current watermark.
    pub fn push(&mut self, value: I, timestamp: u64) {
        self.position += 1;
        self.input.send_batch(&mut vec![Record::new(timestamp, self.position, value)]);
    }

    /// Advances the input's watermark (eddy semantics: no more records below `watermark`;
    /// Flink's `W` is `watermark - 1`). Does nothing if it is not ahead.
    pub fn advance_watermark(&mut self, watermark: u64) {
        if watermark > *self.input.time() {
            self.input.advance_to(watermark);
        }
    }

    /// Sets the processing-time clock (it never goes back).
    pub fn set_processing_time(&mut self, now_ms: u64) {
        self.clock.set(now_ms);
    }

    /// Runs the dataflow until the output has caught up with everything pushed so far, then a
    /// few more rounds so operators woken by the clock run too.
    pub fn step(&mut self) {
        let target = *self.input.time();
        for _ in 0..100_000 {
            self.worker.step();
            if !self.probe.less_than(&target) {
                break;
            }
        }
        for _ in 0..3 {
            self.worker.step_or_park(Some(Duration::from_millis(2)));
        }
    }

    /// The output's watermark (eddy semantics); `None` once the output has ended.
    pub fn output_frontier(&self) -> Option<u64> {
        self.probe.with_frontier(|frontier| frontier.iter().next().copied())
    }
}

impl<I: Clone + 'static, O, L> HarnessDriver<'_, I, O, L> {
    /// The (value, event time) records output since the last call.
    pub fn take_output(&mut self) -> Vec<(O, u64)> {
        std::mem::take(&mut *self.output.borrow_mut())
    }

    /// The (value, event time) records of the second output since the last call.
    pub fn take_late(&mut self) -> Vec<(L, u64)> {
        std::mem::take(&mut *self.late.borrow_mut())
    }
}

struct CollectInto<T>(Collected<T>);

impl<T: 'static> Sink<T> for CollectInto<T> {
    fn name(&self) -> String {
        "harness".into()
    }
    fn writer(&self, _context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>> {
        Ok(Box::new(CollectInto(Rc::clone(&self.0))))
    }
}

impl<T> SinkWriter<T> for CollectInto<T> {
    fn write(&mut self, value: T, timestamp: u64, _logical_time: u64) -> Result<()> {
        self.0.borrow_mut().push((value, timestamp));
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Builds a dataflow from one controllable input with `build`, which returns a main and a
/// second (e.g. late-data) output, and hands a driver to `drive`. When `drive` returns, the
/// dataflow is dropped as it is, without advancing event time to the end (like closing
/// Flink's operator test harness): pending timers do not fire.
#[allow(clippy::disallowed_methods)] // timely's worker wants a start instant for its logging.
pub fn run_harness<I: Data, O: Data, L: Data, R>(
    clock: ManualClock,
    build: impl for<'s> FnOnce(DataStream<'s, I>) -> (DataStream<'s, O>, DataStream<'s, L>),
    drive: impl FnOnce(&mut HarnessDriver<'_, I, O, L>) -> R,
) -> R {
    let allocator = Allocator::Thread(Thread::default());
    let mut worker = Worker::new(WorkerConfig::default(), allocator, Some(std::time::Instant::now()));
    let output: Collected<O> = Rc::default();
    let late: Collected<L> = Rc::default();
    let probe = ProbeHandle::new();
    let shared = Arc::new(JobShared::new());
    let input = worker.dataflow::<u64, _, _>(|scope| {
        let env = Env {
            scope,
            shared: Arc::clone(&shared),
            clock: Arc::new(clock.clone()),
            ids: Rc::new(Cell::new(0)),
            record_order: RecordOrder::Arrival,
            uids: Rc::default(),
        };
        let (input, stream) = scope.new_input::<Vec<Record<I>>>();
        let stream = DataStream::from_stream(env.stream_context(), stream);
        let (main, second) = build(stream);
        let main_context = main.context.clone();
        let main = DataStream::from_stream(main_context, main.into_timely().probe_with(&probe));
        main.sink(CollectInto(Rc::clone(&output)));
        second.sink(CollectInto(Rc::clone(&late)));
        input
    });
    let mut driver = HarnessDriver { worker: &mut worker, input, probe, clock, output, late, position: 0 };
    let result = drive(&mut driver);
    drop(driver);
    for dataflow in worker.installed_dataflows() {
        worker.drop_dataflow(dataflow);
    }
    result
}
