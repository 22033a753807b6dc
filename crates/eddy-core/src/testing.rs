//! A single-worker harness that runs a dataflow step by step, for conformance runners and
//! operator tests: push records at the current watermark, advance the watermark, move the
//! processing-time clock, checkpoint and restore the operators, and read what came out after
//! each step.
//!
//! The harness applies records in arrival order ([`RecordOrder::Arrival`]), as Flink's
//! operator test harness does, so each record takes effect at the step that pushed it.
//!
//! # Snapshot and restore
//! The harness's dataflow checkpoints (its stateful operators are checkpoint participants), but
//! there is no coordinator: [`HarnessDriver::snapshot_restore`] announces a checkpoint itself,
//! collects every participant's part in memory, drops the dataflow and builds it again with
//! the same build function, restored from those parts, like a job restarted from a checkpoint.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use timely::communication::allocator::thread::Thread;
use timely::communication::Allocator;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::core::input::Handle as InputHandle;
use timely::dataflow::operators::core::probe::Handle as ProbeHandle;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::{Input, Probe};
use timely::worker::Worker;
use timely::WorkerConfig;

use crate::checkpoint::control::Control;
use crate::checkpoint::messages::Message;
use crate::checkpoint::part::Part;
use crate::checkpoint::restore::Restored;
use crate::error::Result;
use crate::record::{Data, Record};
use crate::runtime::{Env, JobShared, RecordOrder};
use crate::sink::{Sink, SinkContext, SinkWriter};
use crate::stream::DataStream;
use crate::time::ManualClock;

type Collected<T> = Rc<RefCell<Vec<(T, u64)>>>;

/// The function that builds the harness's dataflow from its input: a main and a second (e.g.
/// late-data) output.
type Build<'b, I, O, L> = dyn for<'s> Fn(DataStream<'s, I>) -> (DataStream<'s, O>, DataStream<'s, L>) + 'b;

/// Steps after which a checkpoint that is still missing parts is reported as stuck.
const SNAPSHOT_STEPS: usize = 10_000;

/// One built instance of the harness's dataflow.
struct Installed<I: Clone + 'static> {
    /// The dataflow's index on the worker.
    dataflow: usize,
    input: InputHandle<u64, CapacityContainerBuilder<Vec<Record<I>>>>,
    probe: ProbeHandle<u64>,
    shared: Arc<JobShared>,
    /// The scope-local index of an operator built after all others: the dataflow's operators
    /// are `1..operators`.
    operators: usize,
    /// The uids of its stateful operators.
    uids: Vec<String>,
}

/// Drives a dataflow built by [`run_harness`].
pub struct HarnessDriver<'w, I: Clone + 'static, O, L> {
    worker: &'w mut Worker,
    build: &'w Build<'w, I, O, L>,
    installed: Installed<I>,
    clock: ManualClock,
    output: Collected<O>,
    late: Collected<L>,
    position: u64,
    /// Where participants send their parts (every build's control shares the sender).
    parts: (mpsc::Sender<Message>, mpsc::Receiver<Message>),
    /// The id of the last checkpoint taken.
    checkpoint: u64,
}

impl<I: Data, O: Data, L: Data> HarnessDriver<'_, I, O, L> {
    /// Sends a record with event time `timestamp` at the current watermark.
    pub fn push(&mut self, value: I, timestamp: u64) {
        self.position += 1;
        self.installed.input.send_batch(&mut vec![Record::new(timestamp, self.position, value)]);
    }

    /// Advances the input's watermark (eddy semantics: no more records below `watermark`;
    /// Flink's `W` is `watermark - 1`). Does nothing if it is not ahead.
    pub fn advance_watermark(&mut self, watermark: u64) {
        if watermark > *self.installed.input.time() {
            self.installed.input.advance_to(watermark);
        }
    }

    /// Sets the processing-time clock (it never goes back).
    pub fn set_processing_time(&mut self, now_ms: u64) {
        self.clock.set(now_ms);
    }

    /// Runs the dataflow until the output has caught up with everything pushed so far, then a
    /// few more rounds so operators woken by the clock run too.
    ///
    /// # Panics
    /// If an operator failed the dataflow (for example, it could not restore its state).
    pub fn step(&mut self) {
        let target = *self.installed.input.time();
        for _ in 0..100_000 {
            self.worker.step();
            if !self.installed.probe.less_than(&target) {
                break;
            }
        }
        for _ in 0..3 {
            self.worker.step_or_park(Some(Duration::from_millis(2)));
        }
        assert!(!self.installed.shared.failed(), "an operator of the harness's dataflow failed");
    }

    /// The output's watermark (eddy semantics); `None` once the output has ended.
    pub fn output_frontier(&self) -> Option<u64> {
        self.installed.probe.with_frontier(|frontier| frontier.iter().next().copied())
    }

    /// Checkpoints the operators' state, discards the dataflow and builds it again, restored
    /// from that checkpoint; the outputs keep flowing into the same logs.
    ///
    /// The checkpoint is taken at the input's current time `E`, after everything pushed so far
    /// has been applied (records are applied in arrival order, so also those at `E`): its
    /// state is the state now. The new dataflow's input starts at `E`, and the processing-time
    /// clock is kept. Output the old dataflow would produce after its part was taken (such as
    /// timers firing in the same activation) is discarded: the restored dataflow produces it
    /// again from the checkpoint.
    ///
    /// # Panics
    /// If a participant does not contribute its part, or the new dataflow lacks an operator
    /// (by uid) that the checkpoint holds state for.
    pub fn snapshot_restore(&mut self) {
        // Everything pushed so far must have been applied before the cut is announced.
        self.step();
        let time = *self.installed.input.time();
        let (output_len, late_len) = (self.output.borrow().len(), self.late.borrow().len());
        self.checkpoint += 1;
        let id = self.checkpoint;
        let control = Arc::clone(self.installed.shared.checkpoints.get().expect("the harness checkpoints"));
        assert!(control.trigger_at(id, time), "the harness's checkpoints were closed");
        let expected = control.registered.load(std::sync::atomic::Ordering::SeqCst);
        let mut parts: Vec<Part> = Vec::new();
        let mut steps = 0;
        loop {
            while let Ok(message) = self.parts.1.try_recv() {
                if let Message::Part(submission) = message {
                    if submission.checkpoint == id {
                        parts.push(submission.resolve().expect("a checkpoint part encodes"));
                    }
                }
            }
            if parts.len() >= expected {
                break;
            }
            assert!(
                steps < SNAPSHOT_STEPS,
                "checkpoint {id} at {time}: {} of {expected} parts arrived",
                parts.len()
            );
            // Participants learn of the checkpoint when they are next scheduled: wake them all.
            let activations = self.worker.activations();
            for operator in 1..self.installed.operators {
                activations.borrow_mut().activate(&[self.installed.dataflow, operator]);
            }
            self.worker.step();
            steps += 1;
        }
        control.retire(id);
        let restored = Arc::new(Restored::from_parts(id, time, 1, parts));
        self.worker.drop_dataflow(self.installed.dataflow);
        self.output.borrow_mut().truncate(output_len);
        self.late.borrow_mut().truncate(late_len);
        let mut installed = install(
            self.worker,
            self.build,
            &self.clock,
            &self.output,
            &self.late,
            &self.parts.0,
            Some(Arc::clone(&restored)),
        );
        let unmatched = restored.unmatched(&installed.uids);
        assert!(
            unmatched.is_empty(),
            "the rebuilt dataflow has no operator for the checkpointed state of {unmatched:?}"
        );
        installed.input.advance_to(time);
        // The old input handle is dropped with its dataflow already gone: it ends nothing.
        drop(std::mem::replace(&mut self.installed, installed));
        self.step();
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
/// second (e.g. late-data) output, and hands a driver to `drive`. `build` runs again for every
/// [`HarnessDriver::snapshot_restore`]. When `drive` returns, the dataflow is dropped as it is,
/// without advancing event time to the end (like closing Flink's operator test harness):
/// pending timers do not fire.
#[allow(clippy::disallowed_methods)] // timely's worker wants a start instant for its logging.
pub fn run_harness<I: Data, O: Data, L: Data, R>(
    clock: ManualClock,
    build: impl for<'s> Fn(DataStream<'s, I>) -> (DataStream<'s, O>, DataStream<'s, L>),
    drive: impl FnOnce(&mut HarnessDriver<'_, I, O, L>) -> R,
) -> R {
    let allocator = Allocator::Thread(Thread::default());
    let mut worker = Worker::new(WorkerConfig::default(), allocator, Some(std::time::Instant::now()));
    let output: Collected<O> = Rc::default();
    let late: Collected<L> = Rc::default();
    let parts = mpsc::channel();
    let installed = install(&mut worker, &build, &clock, &output, &late, &parts.0, None);
    let mut driver = HarnessDriver {
        worker: &mut worker,
        build: &build,
        installed,
        clock,
        output,
        late,
        position: 0,
        parts,
        checkpoint: 0,
    };
    let result = drive(&mut driver);
    drop(driver);
    for dataflow in worker.installed_dataflows() {
        worker.drop_dataflow(dataflow);
    }
    result
}

/// Builds the dataflow on `worker` with a checkpoint control of its own (restored from
/// `restored`, if given) whose participants send their parts on `parts`.
fn install<I: Data, O: Data, L: Data>(
    worker: &mut Worker,
    build: &Build<'_, I, O, L>,
    clock: &ManualClock,
    output: &Collected<O>,
    late: &Collected<L>,
    parts: &mpsc::Sender<Message>,
    restored: Option<Arc<Restored>>,
) -> Installed<I> {
    let probe = ProbeHandle::new();
    let shared = Arc::new(JobShared::new());
    let control = Control::new(parts.clone(), restored, "harness".into());
    if shared.checkpoints.set(Arc::new(control)).is_err() {
        unreachable!("a new job's checkpoint control is unset");
    }
    let uids = Rc::new(RefCell::new(Vec::new()));
    let (dataflow, input, operators) = worker.dataflow::<u64, _, _>(|scope| {
        let env = Env {
            scope,
            shared: Arc::clone(&shared),
            clock: Arc::new(clock.clone()),
            ids: Rc::new(Cell::new(0)),
            record_order: RecordOrder::Arrival,
            uids: Rc::clone(&uids),
        };
        let (input, stream) = scope.new_input::<Vec<Record<I>>>();
        let stream = DataStream::from_stream(env.stream_context(), stream);
        let (main, second) = build(stream);
        let main_context = main.context.clone();
        let main = DataStream::from_stream(main_context, main.into_timely().probe_with(&probe));
        main.sink(CollectInto(Rc::clone(output)));
        second.sink(CollectInto(Rc::clone(late)));
        // An operator built last, to know how many operators there are to wake.
        let last = OperatorBuilder::new("HarnessEnd".into(), scope);
        let info = last.operator_info();
        last.build(|_capabilities| |_frontiers| {});
        (info.address[0], input, info.local_id)
    });
    let uids = uids.borrow().iter().map(|slot| slot.get()).collect();
    Installed { dataflow, input, probe, shared, operators, uids }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    type Reading = (String, u64);

    /// Records older than the watermark when they arrive.
    const LATE: OutputTag<Reading> = OutputTag::new("harness-test-late");

    /// Sums the values of each key in value state and reports the sum when a timer fires: an
    /// event-time timer 1000 after the first record's timestamp, or a processing-time timer
    /// 100 after the clock when the first record arrived. Late records go to [`LATE`].
    struct SumThenReport {
        sum: Option<ValueState<u64>>,
        processing_time: bool,
    }

    impl KeyedProcessFunction<String, Reading, Reading> for SumThenReport {
        fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
            self.sum = Some(ctx.value_state("sum"));
        }
        fn process_element(&mut self, value: Reading, ctx: &mut Context<'_, String, Reading>) {
            if ctx.timestamp() < ctx.current_watermark() {
                ctx.emit_to(&LATE, value);
                return;
            }
            let state = self.sum.as_ref().expect("opened");
            let sum = state.value(ctx).unwrap_or(0);
            if sum == 0 {
                if self.processing_time {
                    let at = ctx.current_processing_time() + 100;
                    ctx.register_processing_time_timer(at);
                } else {
                    let at = ctx.timestamp() + 1000;
                    ctx.register_event_time_timer(at);
                }
            }
            state.update(ctx, sum + value.1);
        }
        fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, String, Reading>) {
            let state = self.sum.as_ref().expect("opened");
            let sum = state.value(ctx).unwrap_or(0);
            state.clear(ctx);
            let key = ctx.key().clone();
            ctx.emit((key, sum));
        }
    }

    enum Step {
        Push(&'static str, u64, u64),
        Watermark(u64),
        Clock(u64),
        Restore,
    }

    /// What each step output: (main output, late output), sorted.
    type Outputs = Vec<(Vec<(Reading, u64)>, Vec<(Reading, u64)>)>;

    /// Runs the steps; with `restores` false, restore steps do nothing.
    fn run(steps: &[Step], processing_time: bool, restores: bool) -> Outputs {
        run_harness(
            ManualClock::new(0),
            move |input: DataStream<'_, Reading>| {
                let output = input
                    .key_by(|reading: &Reading| reading.0.clone())
                    .process(SumThenReport { sum: None, processing_time });
                let late = output.side_output(&LATE);
                (output, late)
            },
            |driver: &mut HarnessDriver<'_, Reading, Reading, Reading>| {
                let mut outputs = Vec::new();
                for step in steps {
                    match *step {
                        Step::Push(key, value, timestamp) => driver.push((key.to_owned(), value), timestamp),
                        Step::Watermark(watermark) => driver.advance_watermark(watermark),
                        Step::Clock(now) => driver.set_processing_time(now),
                        Step::Restore if restores => driver.snapshot_restore(),
                        Step::Restore => {}
                    }
                    driver.step();
                    let (mut output, mut late) = (driver.take_output(), driver.take_late());
                    output.sort();
                    late.sort();
                    outputs.push((output, late));
                }
                outputs
            },
        )
    }

    fn reading(key: &str, value: u64, timestamp: u64) -> (Reading, u64) {
        ((key.to_owned(), value), timestamp)
    }

    #[test]
    fn a_restore_keeps_value_state_and_event_time_timers() {
        let steps = [
            Step::Push("a", 1, 10),
            Step::Push("b", 2, 20),
            Step::Watermark(600),
            Step::Push("a", 3, 600),
            // "a" (sum 4) and "b" (sum 2) have state and a pending timer (1010, 1020).
            Step::Restore,
            Step::Push("a", 4, 700),
            Step::Push("b", 5, 15), // late: to the side output of the new dataflow
            Step::Watermark(1015),
            Step::Restore,
            Step::Restore,
            Step::Push("c", 6, 1100),
            Step::Watermark(1021),
            Step::Watermark(3000),
        ];
        let restored = run(&steps, false, true);
        assert_eq!(restored, run(&steps, false, false));
        let nothing = (vec![], vec![]);
        assert_eq!(
            restored,
            vec![
                nothing.clone(),
                nothing.clone(),
                nothing.clone(),
                nothing.clone(),
                nothing.clone(),
                nothing.clone(),
                (vec![], vec![reading("b", 5, 15)]),
                (vec![reading("a", 8, 1010)], vec![]),
                nothing.clone(),
                nothing.clone(),
                nothing.clone(),
                (vec![reading("b", 2, 1020)], vec![]),
                (vec![reading("c", 6, 2100)], vec![]),
            ]
        );
    }

    #[test]
    fn a_restore_keeps_processing_time_timers() {
        let steps = [
            Step::Clock(50),
            Step::Push("a", 1, 10),
            Step::Clock(100),
            Step::Push("a", 2, 20),
            Step::Restore,
            Step::Clock(149),
            Step::Restore,
            Step::Clock(150),
            Step::Clock(400),
        ];
        let restored = run(&steps, true, true);
        assert_eq!(restored, run(&steps, true, false));
        let fired: Vec<&(Reading, u64)> = restored.iter().flat_map(|(output, _)| output).collect();
        assert_eq!(fired.len(), 1, "{restored:?}");
        assert_eq!(fired[0].0, ("a".to_owned(), 3));
        assert_eq!(restored[7].0.len(), 1, "fires when the clock reaches 150: {restored:?}");
    }
}
