//! `iterate`: feedback loops for DataStream jobs. A keyed loop body with per-key state sends
//! messages to keys (its own or others) that come back to it in the next *round*, until a
//! round sends nothing; it emits results out of the loop on the way. This is the shape of
//! incremental graph algorithms (connected components, shortest paths: vertices as keys,
//! edges as input, label or distance updates as messages) and of retry loops (a record sends
//! itself back until it succeeds or gives up).
//!
//! # Where iteration is allowed and what it means for time
//! The loop runs in a nested timely scope whose time is `(logical time, round)`
//! (`Product<u64, u64>`), so timely's progress tracking sees the cycle:
//!
//! * **Rounds do not advance event time.** Input enters at round 0 of its logical time; a
//!   message sent at round `r` is applied at round `r + 1` of the *same* logical time and
//!   carries the event time of the record that sent it (unless given another). Outputs leave
//!   the loop at that logical time. The watermark inside the loop is the outer frontier: a
//!   logical time is complete when every round of it is.
//! * **Termination per logical time.** A round that sends no message ends the iteration for
//!   its logical time: no capability at it remains, the outer frontier moves on, and a job on
//!   bounded input ends. A loop still sending after [`IterateOptions::max_rounds`] rounds of
//!   one logical time fails the job with a clear error instead of running forever.
//! * **Determinism.** The records and messages of one (logical time, round) are applied once
//!   both inputs' frontiers have passed it in (logical time, round) order, sorted by (key
//!   hash, event time, tag), so state,
//!   messages and outputs per logical time do not depend on the worker count or on arrival
//!   order. A key's outputs leave in round order.
//! * **The loop body is one keyed operator.** Other operators (windows, joins) cannot sit
//!   inside the loop: eddy's `DataStream` lives in the worker's root scope of time `u64`. A
//!   loop whose body needs them is built with timely directly through the SDK
//!   ([`DataStream::into_timely`], `Scope::iterative`).
//!
//! # State and checkpointing
//! Each key's state lives across logical times and is part of every checkpoint. A checkpoint
//! at logical time `E` holds what every round of every time before `E` did: the operator does
//! not apply any round of a time at or after `E` until the frontier of both inputs (the input
//! and the loop's own messages) has passed all rounds before `E`, then snapshots. Messages in
//! flight are never part of a checkpoint, since no round of a time before `E` is pending then.
//! A restore, at any worker count, hands each worker the keys of its hash range.
//!
//! The price: a checkpoint completes only once the loop has caught up with its time, so a loop
//! that lags behind its sources (every round costs one progress exchange between workers)
//! delays checkpoints by its lag, as a slow keyed operator delays them by its backlog.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::{Capability, ConnectLoop, Enter, Feedback, Leave};
use timely::order::Product;

use crate::error::{Error, Result};
use crate::hash::{key_hash, mix, worker_for_hash, HashMap};
use crate::operators::keyed::KeyedStream;
use crate::operators::process::Key;
use crate::record::{Data, Record};
use crate::sdk::{CheckpointedState, PartKind, RestoredState, Snapshot};
use crate::stream::DataStream;

/// Time inside a loop: (logical time, round).
type LoopTime = Product<u64, u64>;

/// The body of a feedback loop: what one key does with an input record (round 0) or with a
/// message sent to it in the previous round.
pub trait LoopFunction<K, I, M, O> {
    /// The state of one key, kept across logical times and checkpointed.
    type State: Data;
    /// Called for every input record, with the record's key as the current key.
    fn on_input(&mut self, value: I, ctx: &mut LoopContext<'_, K, Self::State, M, O>);
    /// Called for every message sent to the current key in the previous round.
    fn on_message(&mut self, message: M, ctx: &mut LoopContext<'_, K, Self::State, M, O>);
}

/// Options of [`KeyedStream::iterate`].
#[derive(Clone, Debug)]
pub struct IterateOptions {
    /// The most rounds one logical time may take; a loop still sending messages after that
    /// fails the job (a loop that does not converge).
    pub max_rounds: u64,
}

impl Default for IterateOptions {
    fn default() -> Self {
        IterateOptions { max_rounds: 100_000 }
    }
}

/// What a [`LoopFunction`] sees while it handles one record or message.
pub struct LoopContext<'a, K, S, M, O> {
    key: &'a K,
    timestamp: u64,
    time: LoopTime,
    state: &'a mut Option<S>,
    tag: u64,
    sent: u64,
    messages: &'a mut Vec<Record<(K, M)>>,
    out: &'a mut Vec<Record<O>>,
}

impl<K, S, M, O> LoopContext<'_, K, S, M, O> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The event time of the current record or message.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The logical time being applied: the watermark inside the loop.
    pub fn current_watermark(&self) -> u64 {
        self.time.outer
    }

    /// The round being applied: 0 for input records, `r + 1` for messages sent at round `r`.
    pub fn round(&self) -> u64 {
        self.time.inner
    }

    /// The current key's state (`None` until set).
    pub fn state(&mut self) -> &mut Option<S> {
        self.state
    }

    fn next_tag(&mut self) -> u64 {
        self.sent += 1;
        mix(self.tag, self.sent)
    }

    /// Sends `message` to key `to` for the next round, carrying the current event time.
    pub fn send(&mut self, to: K, message: M) {
        let timestamp = self.timestamp;
        self.send_with_timestamp(to, message, timestamp);
    }

    /// Sends `message` to key `to` for the next round with the given event time.
    pub fn send_with_timestamp(&mut self, to: K, message: M, timestamp: u64) {
        let tag = self.next_tag();
        self.messages.push(Record::new(timestamp, tag, (to, message)));
    }

    /// Emits `value` out of the loop, carrying the current event time, at the logical time
    /// being applied.
    pub fn emit(&mut self, value: O) {
        let timestamp = self.timestamp;
        self.emit_with_timestamp(value, timestamp);
    }

    /// Emits `value` out of the loop with the given event time.
    pub fn emit_with_timestamp(&mut self, value: O, timestamp: u64) {
        let tag = self.next_tag();
        self.out.push(Record::new(timestamp, tag, value));
    }
}

/// The checkpointed state of a loop on one worker: every key's state.
struct LoopState<K, S> {
    states: HashMap<K, S>,
}

#[derive(Serialize, Deserialize)]
struct LoopPart<K, S> {
    /// (key, state), sorted by key hash.
    entries: Vec<(K, S)>,
}

impl<K: Key, S: Data> CheckpointedState for LoopState<K, S> {
    fn kind(&self) -> PartKind {
        PartKind::custom("iterate").expect("a valid part kind")
    }

    fn version(&self) -> u32 {
        1
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        let mut entries: Vec<(K, S)> =
            self.states.iter().map(|(key, state)| (key.clone(), state.clone())).collect();
        entries.sort_by_cached_key(|(key, _)| key_hash(key));
        let count = entries.len() as u64;
        Ok(Snapshot::new(crate::state::encode(&LoopPart { entries })?, count))
    }

    fn restore(&mut self, restored: &RestoredState<'_>) -> Result<()> {
        if restored.version != Some(1) {
            return Err(Error::Checkpoint(format!(
                "iterate state of format version {:?}; this build reads version 1",
                restored.version
            )));
        }
        for (_, bytes) in restored.parts {
            let part: LoopPart<K, S> = crate::state::decode(bytes, "iterate state")?;
            for (key, state) in part.entries {
                if worker_for_hash(key_hash(&key), restored.workers) == restored.worker_index {
                    self.states.insert(key, state);
                }
            }
        }
        Ok(())
    }
}

/// What waits for one (logical time, round) to be complete.
struct Pending<I, K, M> {
    capabilities: (Capability<LoopTime>, Capability<LoopTime>),
    inputs: Vec<Record<I>>,
    messages: Vec<Record<(K, M)>>,
}

impl<'scope, K: Key, I: Data> KeyedStream<'scope, K, I> {
    /// Runs a feedback loop over this keyed stream: `function` handles each input record at
    /// round 0 and each message at the round after it was sent, with per-key state, until a
    /// round of a logical time sends no message (see [`crate::operators::iterate`] for what
    /// rounds mean for event time, termination and checkpoints). Flink users know the pattern
    /// from `DataStream.iterate()` / `closeWith` and Gelly's vertex-centric iterations.
    ///
    /// ```no_run
    /// use eddy_core::operators::iterate::{IterateOptions, LoopContext, LoopFunction};
    /// use eddy_core::prelude::*;
    ///
    /// /// Retries each job up to three times: a failed attempt sends the job back to itself.
    /// struct Retry;
    ///
    /// impl LoopFunction<u64, u64, u32, (u64, bool)> for Retry {
    ///     type State = ();
    ///     fn on_input(&mut self, _job: u64, ctx: &mut LoopContext<'_, u64, (), u32, (u64, bool)>) {
    ///         self.on_message(1, ctx);
    ///     }
    ///     fn on_message(&mut self, attempt: u32, ctx: &mut LoopContext<'_, u64, (), u32, (u64, bool)>) {
    ///         let job = *ctx.key();
    ///         let succeeded = (job + u64::from(attempt)) % 3 == 0;
    ///         if succeeded || attempt == 3 {
    ///             ctx.emit((job, succeeded));
    ///         } else {
    ///             ctx.send(job, attempt + 1);
    ///         }
    ///     }
    /// }
    ///
    /// fn retried<'s>(jobs: DataStream<'s, u64>) -> DataStream<'s, (u64, bool)> {
    ///     jobs.key_by(|job| *job).iterate(Retry, IterateOptions::default())
    /// }
    /// ```
    ///
    /// # State
    /// Per key, [`LoopFunction::State`], kept until the function sets it to `None`.
    ///
    /// # Checkpointing
    /// The keys' states, restored at any worker count by key hash range.
    pub fn iterate<M: Data, O: Clone + 'static, F: LoopFunction<K, I, M, O> + 'static>(
        self,
        function: F,
        options: IterateOptions,
    ) -> DataStream<'scope, O> {
        let env = self.stream.env();
        let scope = env.scope();
        let peers = env.workers();
        let mut operator = env.stateful_operator("iterate");
        let uid = operator.uid_slot();
        let key_of = Rc::clone(&self.key);
        let route = Rc::clone(&self.key);
        let input = self.stream.into_timely();
        let output = scope.iterative::<u64, _, _>(|inner| {
            let (handle, feedback) = inner.feedback::<Vec<Record<(K, M)>>>(Product::new(0, 1));
            let mut builder = OperatorBuilder::new("Iterate".to_owned(), inner);
            uid.bind(&builder.operator_info().address);
            let mut input = builder.new_input(
                input.enter(inner),
                Exchange::new(move |record: &Record<I>| {
                    worker_for_hash(key_hash(&route(&record.value)), peers) as u64
                }),
            );
            let mut messages_in = builder.new_input(
                feedback,
                Exchange::new(move |record: &Record<(K, M)>| {
                    worker_for_hash(key_hash(&record.value.0), peers) as u64
                }),
            );
            let (messages_out, messages) = builder.new_output::<Vec<Record<(K, M)>>>();
            let (results_out, results) = builder.new_output::<Vec<Record<O>>>();
            let (mut messages_out, mut results_out) =
                (OutputBuilder::from(messages_out), OutputBuilder::from(results_out));
            messages.connect_loop(handle);
            let mut function = function;
            builder.build(move |_capabilities| {
                let mut state = LoopState { states: HashMap::default() };
                let mut stash: BTreeMap<(u64, u64), Pending<I, K, M>> = BTreeMap::new();
                move |frontiers| {
                    if let Err(error) = operator.restore(&mut state) {
                        operator.fail(error);
                    }
                    // Messages come from eddy's operators and this loop, each sent under one
                    // capability: their stamp is one time.
                    input.for_each(|capability, batch| {
                        let Some(time) = capability.stamp().iter().next().cloned() else { return };
                        pending(&mut stash, &time, || {
                            (capability.delayed(&time, 0), capability.delayed(&time, 1))
                        })
                        .inputs
                        .append(batch);
                    });
                    messages_in.for_each(|capability, batch| {
                        let Some(time) = capability.stamp().iter().next().cloned() else { return };
                        pending(&mut stash, &time, || {
                            (capability.delayed(&time, 0), capability.delayed(&time, 1))
                        })
                        .messages
                        .append(batch);
                    });
                    if operator.stopping() {
                        stash.clear();
                        return;
                    }
                    // The outer frontier: the least logical time either input may still see.
                    let outer = frontiers
                        .iter()
                        .filter_map(|frontier| frontier.frontier().iter().map(|t| t.outer).min())
                        .min();
                    // A round is applied once no input may still bring anything at or before
                    // it in (logical time, round) order: the state carries across logical
                    // times, so every round of `t` comes before anything of a later time,
                    // although timely's product order lets `(t + 1, 0)` complete first.
                    let complete = |(time, round): (u64, u64)| {
                        frontiers.iter().all(|frontier| {
                            frontier.frontier().iter().all(|f| (f.outer, f.inner) > (time, round))
                        })
                    };
                    let (mut messages_out, mut results_out) =
                        (messages_out.activate(), results_out.activate());
                    loop {
                        let hold = operator.hold_from().unwrap_or(u64::MAX);
                        let ready: Vec<(u64, u64)> = stash
                            .keys()
                            .filter(|&&(time, round)| time < hold && complete((time, round)))
                            .copied()
                            .collect();
                        for at in ready {
                            let Pending { capabilities, mut inputs, mut messages } =
                                stash.remove(&at).expect("a ready time is stashed");
                            let time = Product::new(at.0, at.1);
                            if at.1 > options.max_rounds && !messages.is_empty() {
                                operator.fail(Error::User(format!(
                                    "`{}`: the loop did not converge: logical time {} still sends \
                                     messages after {} rounds (IterateOptions::max_rounds)",
                                    operator.uid(),
                                    at.0,
                                    options.max_rounds
                                )));
                                stash.clear();
                                return;
                            }
                            let (mut sent, mut out) = (Vec::new(), Vec::new());
                            apply(
                                &mut function,
                                &mut state.states,
                                &*key_of,
                                time,
                                (&mut inputs, &mut messages),
                                (&mut sent, &mut out),
                            );
                            if !sent.is_empty() {
                                messages_out.session(&capabilities.0).give_container(&mut sent);
                            }
                            if !out.is_empty() {
                                results_out.session(&capabilities.1).give_container(&mut out);
                            }
                        }
                        match operator.hold_from() {
                            Some(time) if outer.is_none_or(|outer| outer >= time) => {
                                if let Err(error) = operator.step(&mut state, Some(time)) {
                                    operator.fail(error);
                                    return;
                                }
                            }
                            _ => break,
                        }
                    }
                    if outer.is_none() {
                        if let Err(error) = operator.step(&mut state, None) {
                            operator.fail(error);
                        }
                    }
                }
            });
            results.leave(scope)
        });
        // The output names the loop's state: `.uid(..)` on it names the part in checkpoints.
        DataStream::from_timely(&env, output).with_uid(uid)
    }
}

/// The stash entry of `time`, made with capabilities from `capabilities` if new.
fn pending<'a, I, K, M>(
    stash: &'a mut BTreeMap<(u64, u64), Pending<I, K, M>>,
    time: &LoopTime,
    capabilities: impl FnOnce() -> (Capability<LoopTime>, Capability<LoopTime>),
) -> &'a mut Pending<I, K, M> {
    stash.entry((time.outer, time.inner)).or_insert_with(|| Pending {
        capabilities: capabilities(),
        inputs: Vec::new(),
        messages: Vec::new(),
    })
}

/// Applies the records and messages of one (logical time, round), sorted by (key hash, event
/// time, tag), inputs before messages of equal order (they never share a round: inputs are
/// at round 0, messages later).
fn apply<K: Key, I, M, O, F: LoopFunction<K, I, M, O>>(
    function: &mut F,
    states: &mut HashMap<K, F::State>,
    key_of: &dyn Fn(&I) -> K,
    time: LoopTime,
    (inputs, messages): (&mut Vec<Record<I>>, &mut Vec<Record<(K, M)>>),
    (sent, out): (&mut Vec<Record<(K, M)>>, &mut Vec<Record<O>>),
) {
    let mut keyed: Vec<(u64, u64, u64, K, I)> = inputs
        .drain(..)
        .map(|record| {
            let key = key_of(&record.value);
            (key_hash(&key), record.timestamp, record.tag, key, record.value)
        })
        .collect();
    keyed.sort_by_key(|(hash, timestamp, tag, ..)| (*hash, *timestamp, *tag));
    for (_, timestamp, tag, key, value) in keyed {
        with_context(states, key, timestamp, tag, time, (sent, out), |ctx| function.on_input(value, ctx));
    }
    let mut keyed: Vec<(u64, u64, u64, K, M)> = messages
        .drain(..)
        .map(|record| {
            (key_hash(&record.value.0), record.timestamp, record.tag, record.value.0, record.value.1)
        })
        .collect();
    keyed.sort_by_key(|(hash, timestamp, tag, ..)| (*hash, *timestamp, *tag));
    for (_, timestamp, tag, key, message) in keyed {
        with_context(states, key, timestamp, tag, time, (sent, out), |ctx| function.on_message(message, ctx));
    }
}

/// Calls `call` with a context on `key`'s state, putting the state back (or dropping it if
/// the function set it to `None`).
fn with_context<K: Key, S, M, O>(
    states: &mut HashMap<K, S>,
    key: K,
    timestamp: u64,
    tag: u64,
    time: LoopTime,
    (messages, out): (&mut Vec<Record<(K, M)>>, &mut Vec<Record<O>>),
    call: impl FnOnce(&mut LoopContext<'_, K, S, M, O>),
) {
    let mut state = states.remove(&key);
    let mut ctx = LoopContext {
        key: &key,
        timestamp,
        time,
        state: &mut state,
        // Rounds of one record's descendants get distinct tags.
        tag: mix(tag, time.inner),
        sent: 0,
        messages,
        out,
    };
    call(&mut ctx);
    if let Some(state) = state {
        states.insert(key, state);
    }
}
