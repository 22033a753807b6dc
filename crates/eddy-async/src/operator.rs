//! The async wait operator: issues a request per record on the job's tokio runtime, at most
//! `capacity` at once per worker, and emits each result at its record's logical time, in
//! input order (ordered) or completion order (unordered).
//!
//! # Event time
//! The operator holds a capability at the logical time of every record it has received and
//! not yet answered (queued, in flight, or completed but waiting for an earlier one in
//! ordered mode), so the frontier, and with it watermarks and checkpoints, waits for them.
//! A result keeps its record's event time and logical time: results never cross a logical
//! time (eddy's watermark), whatever the completion order.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

use eddy_core::error::Error;
use eddy_core::hash::mix;
use eddy_core::record::Data;
use eddy_core::sdk::{JobFailure, Record};
use eddy_core::stream::DataStream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::scheduling::SyncActivator;

use crate::retry::{with_retries, AsyncFailure, BoxError};
use crate::runtime::job_runtime;
use crate::{AsyncOptions, OnFailure};

/// The order results are emitted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// In the order records arrived at the worker.
    Ordered,
    /// As requests complete.
    Unordered,
}

/// What a request task sends back: the request's result, or the panic of the function.
type Answer<O> = Result<Result<O, AsyncFailure>, String>;

/// One record the operator has received and not yet answered.
struct Entry<I, O> {
    time: u64,
    timestamp: u64,
    tag: u64,
    value: I,
    result: Option<Result<O, AsyncFailure>>,
}

/// Capabilities by logical time, with the number of records holding each.
#[derive(Default)]
struct Held {
    times: BTreeMap<u64, (Capability<u64>, usize)>,
}

impl Held {
    fn hold(&mut self, time: u64, capability: impl FnOnce() -> Capability<u64>) {
        self.times.entry(time).or_insert_with(|| (capability(), 0)).1 += 1;
    }
    fn release(&mut self, time: u64) {
        if let Some((_, count)) = self.times.get_mut(&time) {
            *count -= 1;
            if *count == 0 {
                self.times.remove(&time);
            }
        }
    }
}

/// The operator's bookkeeping on one worker.
struct AsyncWait<I, O, F> {
    function: Arc<F>,
    options: AsyncOptions<I, O>,
    mode: Mode,
    next: u64,
    entries: BTreeMap<u64, Entry<I, O>>,
    queued: VecDeque<u64>,
    /// Completed requests not yet emitted, in completion order (unordered mode's output order).
    completed: Vec<u64>,
    in_flight: usize,
    held: Held,
    results: Receiver<(u64, Answer<O>)>,
    sender: std::sync::mpsc::Sender<(u64, Answer<O>)>,
    activator: SyncActivator,
    failure: JobFailure,
    operator_id: u64,
}

impl<I, O, F, Fut> AsyncWait<I, O, F>
where
    I: Data,
    O: Clone + Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, BoxError>> + Send + 'static,
{
    /// Starts queued requests while fewer than `capacity` are in flight.
    fn issue(&mut self) {
        let runtime = job_runtime();
        while self.in_flight < self.options.capacity {
            let Some(sequence) = self.queued.pop_front() else { break };
            let entry = &self.entries[&sequence];
            let value = entry.value.clone();
            let function = Arc::clone(&self.function);
            let retry = self.options.retry.clone();
            let timeout = self.options.timeout;
            let sender = self.sender.clone();
            let activator = self.activator.clone();
            self.in_flight += 1;
            let request = runtime
                .spawn(async move { with_retries(&retry, timeout, move || function(value.clone())).await });
            runtime.spawn(async move {
                // A panicking function fails the job (as a panicking operator would) instead
                // of leaving its record unanswered forever.
                let result = request.await.map_err(|error| format!("the async function panicked: {error}"));
                // The operator may be gone (the job failed): nobody waits for the result.
                if sender.send((sequence, result)).is_ok() {
                    let _ = activator.activate();
                }
            });
        }
    }

    /// Takes completed requests' results.
    fn collect(&mut self) {
        while let Ok((sequence, answer)) = self.results.try_recv() {
            self.in_flight -= 1;
            let result = match answer {
                Ok(result) => result,
                Err(panic) => {
                    self.failure.fail(Error::User(panic));
                    continue;
                }
            };
            if let Some(entry) = self.entries.get_mut(&sequence) {
                entry.result = Some(result);
                self.completed.push(sequence);
            }
        }
    }

    /// Turns the results that may go out now into records by logical time, with the logical
    /// time of every record answered (once per record: its capability may go once emitted).
    fn ready(&mut self) -> (BTreeMap<u64, Vec<Record<O>>>, Vec<u64>) {
        let sequences: Vec<u64> = match self.mode {
            Mode::Ordered => self
                .entries
                .iter()
                .take_while(|(_, entry)| entry.result.is_some())
                .map(|(&sequence, _)| sequence)
                .collect(),
            Mode::Unordered => std::mem::take(&mut self.completed),
        };
        if self.mode == Mode::Ordered {
            self.completed.clear();
        }
        let mut out: BTreeMap<u64, Vec<Record<O>>> = BTreeMap::new();
        let mut answered = Vec::with_capacity(sequences.len());
        for sequence in sequences {
            let entry = self.entries.remove(&sequence).expect("listed above");
            let tag = mix(entry.tag, self.operator_id);
            let value = match entry.result.expect("completed") {
                Ok(value) => Some(value),
                Err(failure) => {
                    let policy = if failure == AsyncFailure::Timeout {
                        &self.options.on_timeout
                    } else {
                        &self.options.on_error
                    };
                    match policy {
                        OnFailure::Fail => {
                            self.failure.fail(Error::io(
                                "an async request",
                                std::io::Error::other(format!("request failed for good: {failure}")),
                            ));
                            None
                        }
                        OnFailure::Drop => None,
                        OnFailure::Fallback(fallback) => Some(fallback(&entry.value, &failure)),
                    }
                }
            };
            if let Some(value) = value {
                out.entry(entry.time).or_default().push(Record::new(entry.timestamp, tag, value));
            }
            answered.push(entry.time);
        }
        (out, answered)
    }
}

/// Builds the operator on `stream`'s worker.
pub(crate) fn async_wait<'scope, I, O, F, Fut>(
    stream: DataStream<'scope, I>,
    function: F,
    options: AsyncOptions<I, O>,
    mode: Mode,
) -> DataStream<'scope, O>
where
    I: Data,
    O: Clone + Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, BoxError>> + Send + 'static,
{
    let env = stream.env();
    let scope = env.scope();
    let failure = env.failure();
    let name = match mode {
        Mode::Ordered => "AsyncOrderedWait",
        Mode::Unordered => "AsyncUnorderedWait",
    };
    let mut builder = OperatorBuilder::new(name.to_owned(), scope);
    let address = builder.operator_info().address;
    // Operator ids agree across workers (same build code); used to derive output tags.
    let operator_id = address.iter().fold(0x5eed_u64, |hash, &step| mix(hash, step as u64));
    let activator = scope.worker().sync_activator_for(address.to_vec());
    let mut input = builder.new_input(stream.into_timely(), Pipeline);
    let (output, results_stream) = builder.new_output::<Vec<Record<O>>>();
    let mut output = OutputBuilder::from(output);
    let (sender, results) = channel();
    let mut operator = AsyncWait {
        function: Arc::new(function),
        options,
        mode,
        next: 0,
        entries: BTreeMap::new(),
        queued: VecDeque::new(),
        completed: Vec::new(),
        in_flight: 0,
        held: Held::default(),
        results,
        sender,
        activator,
        failure,
        operator_id,
    };
    builder.build(move |_capabilities| {
        move |_frontiers| {
            let operator = &mut operator;
            input.for_each(|capability, batch| {
                let Some(&time) = capability.least() else { return };
                for record in batch.drain(..) {
                    let sequence = operator.next;
                    operator.next += 1;
                    operator.held.hold(time, || capability.delayed(&time, 0));
                    operator.entries.insert(
                        sequence,
                        Entry {
                            time,
                            timestamp: record.timestamp,
                            tag: record.tag,
                            value: record.value,
                            result: None,
                        },
                    );
                    operator.queued.push_back(sequence);
                }
            });
            if operator.failure.stopping() {
                // Results still in flight arrive at a closed operator and are dropped.
                operator.entries.clear();
                operator.queued.clear();
                operator.completed.clear();
                operator.held.times.clear();
                return;
            }
            operator.collect();
            operator.issue();
            let (ready, answered) = operator.ready();
            let mut output = output.activate();
            for (time, mut records) in ready {
                let (capability, _) = &operator.held.times[&time];
                output.session(capability).give_container(&mut records);
            }
            for time in answered {
                operator.held.release(time);
            }
        }
    });
    DataStream::from_timely(&env, results_stream)
}
