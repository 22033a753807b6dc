//! Keyed process functions and the engine under every keyed operator: frontier-ordered
//! application of records, keyed state and timers (design.md section 3.2).
//!
//! # Event time
//! Records are stashed by logical time and applied only once the input frontier has passed
//! their time, so all records of one time are present. They are applied per key in order of
//! (event time, input, origin tag), which makes every key's state evolve identically whatever
//! the number of workers and however threads interleave. Event-time timers with timestamp
//! `ts` fire once the frontier passes `ts`: after every record of a time `<= ts`, before any
//! record of a later time. A record's outputs are carried at its own logical time; a timer's
//! at `max(ts, time of the record that registered it)`.
//!
//! # State
//! Keyed state ([`crate::state`]) and timers are held per key on the worker that owns the key.
//! State with time-to-live is swept as time advances.

use std::collections::BTreeMap;
use std::rc::Rc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{OutputBuilder, OutputBuilderSession};
use timely::dataflow::operators::Capability;

use crate::checkpoint::control::Participant;
use crate::checkpoint::keyed::{copy_keyed, parse_keyed};
use crate::checkpoint::part::{PartKind, FINAL};
use crate::error::{Error, Result};
use crate::hash::{key_hash, mix, worker_for_hash};
use crate::record::{Data, Record};
use crate::runtime::UidSlot;
use crate::runtime::{RecordOrder, Runtime};
use crate::side_output::{OutputTag, SideRecord};
use crate::state::{decode, KeyedStateAccess, OpenContext, StateParts, StateStore, TtlNow};
use crate::stream::{DataStream, RecordStream, StreamContext};
use crate::timers::{TimeDomain, TimerQueue};

pub use crate::record::Key;

/// A function applied to every record of a keyed stream, with keyed state and timers.
///
/// ```
/// use eddy_core::prelude::*;
///
/// /// Counts records per key and emits the count one second (event time) after the first one.
/// struct CountThenReport { count: Option<ValueState<u64>> }
///
/// impl KeyedProcessFunction<String, String, (String, u64)> for CountThenReport {
///     fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
///         self.count = Some(ctx.value_state("count"));
///     }
///     fn process_element(&mut self, _value: String, ctx: &mut Context<'_, String, (String, u64)>) {
///         let state = self.count.as_ref().expect("opened");
///         let count = state.value(ctx).unwrap_or(0);
///         if count == 0 {
///             let at = ctx.timestamp() + 1_000;
///             ctx.register_event_time_timer(at);
///         }
///         state.update(ctx, count + 1);
///     }
///     fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, String, (String, u64)>) {
///         let state = self.count.as_ref().expect("opened");
///         let count = state.value(ctx).unwrap_or(0);
///         state.clear(ctx);
///         let key = ctx.key().clone();
///         ctx.emit((key, count));
///     }
/// }
/// ```
pub trait KeyedProcessFunction<K, I, O> {
    /// Registers keyed state; called once per worker before any record.
    fn open(&mut self, _ctx: &mut OpenContext<'_, K>) {}
    /// Called for every record, with the record's key as the current key.
    fn process_element(&mut self, value: I, ctx: &mut Context<'_, K, O>);
    /// Called when a timer of the current key fires; `timestamp` is the timer's time.
    fn on_timer(&mut self, _timestamp: u64, _ctx: &mut Context<'_, K, O>) {}
}

/// A function over two keyed streams with shared keyed state and timers.
pub trait KeyedCoProcessFunction<K, I1, I2, O> {
    /// Registers keyed state; called once per worker before any record.
    fn open(&mut self, _ctx: &mut OpenContext<'_, K>) {}
    /// Called for every record of the first input.
    fn process_element1(&mut self, value: I1, ctx: &mut Context<'_, K, O>);
    /// Called for every record of the second input.
    fn process_element2(&mut self, value: I2, ctx: &mut Context<'_, K, O>);
    /// Called when a timer of the current key fires.
    fn on_timer(&mut self, _timestamp: u64, _ctx: &mut Context<'_, K, O>) {}
}

/// What a keyed function sees of the operator while it handles one record or timer.
pub struct Context<'a, K, O> {
    key: &'a K,
    timestamp: u64,
    watermark: u64,
    processing_time: u64,
    /// The logical time outputs are carried at; new timers are delivered no earlier.
    delivery: u64,
    domain: Option<TimeDomain>,
    store: &'a mut StateStore<K>,
    event_timers: &'a mut TimerQueue<K>,
    processing_timers: &'a mut TimerQueue<K>,
    out: &'a mut Vec<Record<O>>,
    side: &'a mut Vec<Record<SideRecord>>,
    tag_base: u64,
    emitted: u64,
}

impl<K: Key, O> Context<'_, K, O> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The event time of the current record, or the timestamp of the firing event-time timer.
    /// For processing-time timers, the logical time the output is carried at.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The operator's watermark as of this call (frontier semantics: no record with a smaller
    /// event time is still expected on time). Flink's `currentWatermark()` is this minus one.
    /// In timers that fire because the input has ended, it is [`END_OF_STREAM`].
    pub fn current_watermark(&self) -> u64 {
        self.watermark
    }

    /// The injected clock's time, read once per activation.
    pub fn current_processing_time(&self) -> u64 {
        self.processing_time
    }

    /// `Some(domain)` inside `on_timer`, `None` while processing a record.
    pub fn time_domain(&self) -> Option<TimeDomain> {
        self.domain
    }

    fn next_tag(&mut self) -> u64 {
        self.emitted += 1;
        mix(self.tag_base, self.emitted)
    }

    /// Emits a value carrying the current [`timestamp`](Self::timestamp).
    pub fn emit(&mut self, value: O) {
        let timestamp = self.timestamp;
        self.emit_with_timestamp(value, timestamp);
    }

    /// Emits a value with the given event time.
    pub fn emit_with_timestamp(&mut self, value: O, timestamp: u64) {
        let tag = self.next_tag();
        self.out.push(Record::new(timestamp, tag, value));
    }

    /// Emits a value to the side output `tag`, carrying the current timestamp.
    pub fn emit_to<S: Clone + 'static>(&mut self, tag: &OutputTag<S>, value: S) {
        let record_tag = self.next_tag();
        self.side.push(Record::new(self.timestamp, record_tag, SideRecord::new(tag, value)));
    }

    /// Registers an event-time timer for the current key; it fires once the watermark passes
    /// `timestamp`. Registering an existing timer again has no effect.
    pub fn register_event_time_timer(&mut self, timestamp: u64) {
        self.event_timers.register(timestamp, self.key, timestamp.max(self.delivery));
    }

    /// Deletes an event-time timer of the current key, if it exists.
    pub fn delete_event_time_timer(&mut self, timestamp: u64) {
        self.event_timers.delete(timestamp, self.key);
    }

    /// Registers a processing-time timer; it fires once the injected clock reaches `timestamp`
    /// (or when the input ends).
    pub fn register_processing_time_timer(&mut self, timestamp: u64) {
        self.processing_timers.register(timestamp, self.key, self.delivery);
    }

    /// Deletes a processing-time timer of the current key, if it exists.
    pub fn delete_processing_time_timer(&mut self, timestamp: u64) {
        self.processing_timers.delete(timestamp, self.key);
    }
}

impl<K: Key, O> KeyedStateAccess for Context<'_, K, O> {
    type Key = K;
    fn state_parts(&mut self) -> StateParts<'_, K> {
        StateParts {
            key: self.key,
            store: self.store,
            now: TtlNow { event: self.watermark, processing: self.processing_time },
        }
    }
}

/// A record of either input of a keyed operator.
pub(crate) enum Input<A, B> {
    First(A),
    Second(B),
}

/// The callbacks the engine drives: one- and two-input functions adapt to this.
pub(crate) trait KeyedLogic<K, A, B, O> {
    fn open(&mut self, ctx: &mut OpenContext<'_, K>);
    fn element(&mut self, input: Input<A, B>, ctx: &mut Context<'_, K, O>);
    fn timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>);
}

pub(crate) struct OneInput<F>(pub(crate) F);

impl<K, I, O, F: KeyedProcessFunction<K, I, O>> KeyedLogic<K, I, (), O> for OneInput<F> {
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.0.open(ctx)
    }
    fn element(&mut self, input: Input<I, ()>, ctx: &mut Context<'_, K, O>) {
        if let Input::First(value) = input {
            self.0.process_element(value, ctx)
        }
    }
    fn timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        self.0.on_timer(timestamp, ctx)
    }
}

pub(crate) struct TwoInputs<F>(pub(crate) F);

impl<K, I1, I2, O, F: KeyedCoProcessFunction<K, I1, I2, O>> KeyedLogic<K, I1, I2, O> for TwoInputs<F> {
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.0.open(ctx)
    }
    fn element(&mut self, input: Input<I1, I2>, ctx: &mut Context<'_, K, O>) {
        match input {
            Input::First(value) => self.0.process_element1(value, ctx),
            Input::Second(value) => self.0.process_element2(value, ctx),
        }
    }
    fn timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        self.0.on_timer(timestamp, ctx)
    }
}

/// Capabilities for the main and the side output at one time.
struct Capabilities {
    main: Capability<u64>,
    side: Capability<u64>,
}

impl Capabilities {
    fn time(&self) -> u64 {
        *self.main.time()
    }
    fn delayed(&self, time: u64) -> Capabilities {
        Capabilities { main: self.main.delayed(&time), side: self.side.delayed(&time) }
    }
    fn downgrade(&mut self, time: u64) {
        if time > self.time() {
            self.main.downgrade(&time);
            self.side.downgrade(&time);
        }
    }
}

struct Item<A, B> {
    timestamp: u64,
    tag: u64,
    input: Input<A, B>,
}

struct Pending<A, B> {
    capabilities: Capabilities,
    items: Vec<Item<A, B>>,
}

type MainSession<'a, O> = OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<Record<O>>>>;
type SideSession<'a> = OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<Record<SideRecord>>>>;

/// A key extractor shared by a keyed stream and the operators reading it.
pub(crate) type KeyFn<K, V> = Rc<dyn Fn(&V) -> K>;

struct Engine<K, A, B, O, L> {
    logic: L,
    key_first: KeyFn<K, A>,
    key_second: Option<KeyFn<K, B>>,
    stash: BTreeMap<u64, Pending<A, B>>,
    store: StateStore<K>,
    event_timers: TimerQueue<K>,
    processing_timers: TimerQueue<K>,
    timer_capabilities: Option<Capabilities>,
    processing_capabilities: Option<Capabilities>,
    out: Vec<Record<O>>,
    side: Vec<Record<SideRecord>>,
    operator_id: u64,
    processing_time: u64,
    /// The largest watermark applied so far (event time for state time-to-live).
    applied_watermark: u64,
    record_order: RecordOrder,
    checkpoints: Option<KeyedCheckpoints>,
}

/// A keyed operator's side of checkpoints.
struct KeyedCheckpoints {
    participant: Participant,
    uid: Rc<UidSlot>,
    /// The highest timer timestamp claimed after the input ended.
    claimed: u64,
    /// The time of the last checkpoint snapshotted: outputs are never carried earlier.
    last_time: u64,
    ended: bool,
}

impl<K: Key, A: 'static, B: 'static, O: 'static, L: KeyedLogic<K, A, B, O>> Engine<K, A, B, O, L> {
    fn context<'a>(
        &'a mut self,
        key: &'a K,
        timestamp: u64,
        watermark: u64,
        delivery: u64,
        domain: Option<TimeDomain>,
        tag_base: u64,
    ) -> (&'a mut L, Context<'a, K, O>) {
        let context = Context {
            key,
            timestamp,
            watermark,
            processing_time: self.processing_time,
            delivery,
            domain,
            store: &mut self.store,
            event_timers: &mut self.event_timers,
            processing_timers: &mut self.processing_timers,
            out: &mut self.out,
            side: &mut self.side,
            tag_base,
            emitted: 0,
        };
        (&mut self.logic, context)
    }

    /// Puts back the keys this worker owns (by hash range at `peers` workers) from the
    /// restored checkpoint, and holds capabilities for their timers.
    fn restore(&mut self, initial: &Capabilities, peers: usize, worker: usize) -> Result<()> {
        let Some(checkpoints) = self.checkpoints.as_mut() else { return Ok(()) };
        let Some(restored) = checkpoints.participant.restored().cloned() else { return Ok(()) };
        let uid = checkpoints.uid.get();
        checkpoints.last_time = restored.manifest.logical_time;
        let Some(operator) = restored.operator(&uid) else { return Ok(()) };
        let mut unknown: Vec<String> = Vec::new();
        for (_, bytes) in &operator.parts {
            let part = parse_keyed(bytes)
                .map_err(|error| Error::Checkpoint(format!("operator `{uid}`: {error}")))?;
            for entry in part.entries {
                if worker_for_hash(entry.hash, peers) != worker {
                    continue;
                }
                let key: K = decode(entry.key, &format!("a key of operator `{uid}`"))?;
                for (name, value) in entry.values {
                    if !self.store.restore_row(name, key.clone(), value)?
                        && !unknown.iter().any(|seen| seen == name)
                    {
                        unknown.push(name.to_owned());
                    }
                }
                for (timestamp, delivery) in entry.event_timers {
                    self.event_timers.register(timestamp, &key, delivery);
                }
                for (timestamp, delivery) in entry.processing_timers {
                    self.processing_timers.register(timestamp, &key, delivery);
                }
            }
        }
        if worker == 0 && !unknown.is_empty() {
            eprintln!(
                "eddy: operator `{uid}`: dropping restored state no longer registered: {}",
                unknown.join(", ")
            );
        }
        let time = restored.manifest.logical_time;
        self.applied_watermark = time;
        if let Some(first) = self.event_timers.iter().map(|(_, _, delivery)| delivery).min() {
            self.timer_capabilities = Some(initial.delayed(first));
        }
        if !self.processing_timers.is_empty() {
            self.processing_capabilities = Some(initial.delayed(time.min(u64::MAX - 1)));
        }
        Ok(())
    }

    /// Whether to snapshot before handling anything at `next` (`None`: nothing left): the
    /// frontier has passed the owed checkpoint's time and `next` is not before it.
    fn snapshot_due(&self, frontier: Option<u64>, next: Option<u64>) -> Option<u64> {
        let pending = self.checkpoints.as_ref()?.participant.next()?;
        let passed = frontier.is_none_or(|frontier| frontier >= pending.time);
        (passed && next.is_none_or(|next| next >= pending.time)).then_some(pending.id)
    }

    /// Writes this operator's part of `checkpoint`.
    fn snapshot(&mut self, checkpoint: u64) {
        let Some(checkpoints) = self.checkpoints.as_mut() else { return };
        if checkpoint != FINAL {
            if let Some(pending) = checkpoints.participant.next() {
                checkpoints.last_time = checkpoints.last_time.max(pending.time);
            }
        }
        // Copy here; encoding happens on the coordinator's thread.
        let copy = copy_keyed(&self.store, &self.event_timers, &self.processing_timers);
        let uid = checkpoints.uid.get();
        checkpoints.participant.submit_deferred(
            checkpoint,
            &uid,
            PartKind::Keyed,
            Box::new(move || copy.encode()),
        );
    }

    /// After the input has ended, claims a timer's time before firing it (see
    /// `checkpoint::control`).
    fn claim_for_end(&mut self, timestamp: u64) {
        if let Some(checkpoints) = self.checkpoints.as_mut() {
            if timestamp > checkpoints.claimed {
                checkpoints.claimed = timestamp;
                checkpoints.participant.claim(timestamp);
            }
        }
    }

    /// Sends buffered outputs at `capabilities`' time.
    fn flush(
        &mut self,
        capabilities: &Capabilities,
        main: &mut MainSession<'_, O>,
        side: &mut SideSession<'_>,
    ) {
        if !self.out.is_empty() {
            main.session(&capabilities.main).give_container(&mut self.out);
            self.out.clear();
        }
        if !self.side.is_empty() {
            side.session(&capabilities.side).give_container(&mut self.side);
            self.side.clear();
        }
    }

    /// Makes sure capabilities are held for timers registered while processing at
    /// `capabilities`' time.
    fn hold_for_timers(&mut self, capabilities: &Capabilities) {
        /// Holds capabilities at `capabilities`' time unless `held` is already no later.
        fn hold(held: &mut Option<Capabilities>, pending: bool, capabilities: &Capabilities) {
            let now = capabilities.time();
            if pending && held.as_ref().is_none_or(|held| held.time() > now) {
                *held = Some(capabilities.delayed(now));
            }
        }
        hold(&mut self.timer_capabilities, !self.event_timers.is_empty(), capabilities);
        hold(&mut self.processing_capabilities, !self.processing_timers.is_empty(), capabilities);
    }

    /// Applies all records of logical time `time`, in (key, event time, input, tag) order.
    fn apply_records(&mut self, time: u64, main: &mut MainSession<'_, O>, side: &mut SideSession<'_>) {
        let Some(Pending { capabilities, items }) = self.stash.remove(&time) else { return };
        // Sort small (order key, index) pairs rather than the records themselves.
        let mut keyed: Vec<Option<(K, Item<A, B>)>> = Vec::with_capacity(items.len());
        let mut order: Vec<(u64, u64, u8, u64, u32)> = Vec::with_capacity(items.len());
        for item in items {
            let (key, which) = match &item.input {
                Input::First(value) => ((self.key_first)(value), 0),
                Input::Second(value) => {
                    (self.key_second.as_ref().expect("second input has a key function")(value), 1)
                }
            };
            order.push((key_hash(&key), item.timestamp, which, item.tag, keyed.len() as u32));
            keyed.push(Some((key, item)));
        }
        if self.record_order == RecordOrder::Deterministic {
            order.sort_unstable();
        }
        self.applied_watermark = self.applied_watermark.max(time);
        let operator_id = self.operator_id;
        for (_, timestamp, _, tag, index) in order {
            let (key, item) = keyed[index as usize].take().expect("each record is applied once");
            let (logic, mut context) = self.context(&key, timestamp, time, time, None, mix(tag, operator_id));
            logic.element(item.input, &mut context);
        }
        self.flush(&capabilities, main, side);
        self.hold_for_timers(&capabilities);
    }

    /// Fires all event-time timers at `timestamp`; they see the watermark `timestamp + 1`, also
    /// when they fire because the input has ended, so that what a timer sees does not depend on
    /// when the end of the input was noticed.
    fn fire_event_timers(
        &mut self,
        timestamp: u64,
        main: &mut MainSession<'_, O>,
        side: &mut SideSession<'_>,
    ) {
        let watermark = timestamp.saturating_add(1);
        self.applied_watermark = self.applied_watermark.max(watermark);
        let held = self.timer_capabilities.take().expect("pending event timers hold capabilities");
        let mut current: Option<Capabilities> = None;
        for (key, delivery) in self.event_timers.take(timestamp) {
            if current.as_ref().is_some_and(|capabilities| capabilities.time() != delivery) {
                let done = current.take().expect("checked");
                self.flush(&done, main, side);
                self.hold_for_timers(&done);
            }
            if current.is_none() {
                current = Some(held.delayed(delivery));
            }
            let tag_base = mix(mix(key_hash(&key), timestamp), self.operator_id);
            let (logic, mut context) =
                self.context(&key, timestamp, watermark, delivery, Some(TimeDomain::EventTime), tag_base);
            logic.timer(timestamp, &mut context);
        }
        if let Some(done) = current {
            self.flush(&done, main, side);
            self.hold_for_timers(&done);
        }
        // Keep the earliest capability: pending timers may be delivered before new ones.
        self.timer_capabilities = match self.timer_capabilities.take() {
            _ if self.event_timers.is_empty() => None,
            Some(new) if new.time() <= held.time() => Some(new),
            _ => Some(held),
        };
    }

    /// Fires processing-time timers up to `until`. With `None` (the input has ended) it fires
    /// every timer pending when the final phase starts, in timestamp order, unless an earlier
    /// one deletes it, and drops the timers registered meanwhile: a timer that re-registers
    /// itself would otherwise never let the job end.
    fn fire_processing_timers(
        &mut self,
        until: Option<u64>,
        main: &mut MainSession<'_, O>,
        side: &mut SideSession<'_>,
    ) {
        let Some(capabilities) = self.processing_capabilities.take() else { return };
        let time = capabilities.time();
        let due: Vec<(u64, K)> = match until {
            Some(now) => {
                let mut due = Vec::new();
                while let Some(timestamp) =
                    self.processing_timers.first_time().filter(|&timestamp| timestamp <= now)
                {
                    due.extend(
                        self.processing_timers.take(timestamp).into_iter().map(|(key, _)| (timestamp, key)),
                    );
                }
                due
            }
            None => self.processing_timers.pending(),
        };
        for (timestamp, key) in &due {
            if until.is_none() {
                if !self.processing_timers.contains(*timestamp, key) {
                    continue; // Deleted by an earlier timer of the final phase.
                }
                self.processing_timers.delete(*timestamp, key);
            }
            let tag_base = mix(mix(key_hash(key), *timestamp), !self.operator_id);
            let (logic, mut context) =
                self.context(key, time, time, time, Some(TimeDomain::ProcessingTime), tag_base);
            logic.timer(*timestamp, &mut context);
        }
        if until.is_none() {
            self.processing_timers.clear();
        }
        if !due.is_empty() {
            self.flush(&capabilities, main, side);
            self.hold_for_timers(&capabilities);
        }
        if !self.processing_timers.is_empty() && self.processing_capabilities.is_none() {
            self.processing_capabilities = Some(capabilities);
        }
    }

    /// Handles everything the input frontier `frontier` (`None`: input ended) allows.
    fn advance(&mut self, frontier: Option<u64>, main: &mut MainSession<'_, O>, side: &mut SideSession<'_>) {
        let passed = |time: u64| frontier.is_none_or(|frontier| time < frontier);
        // Records wait for their time to be complete, unless applied in arrival order.
        let arrival = self.record_order == RecordOrder::Arrival;
        let ready =
            |time: u64| frontier.is_none_or(|frontier| time < frontier || (arrival && time == frontier));
        loop {
            loop {
                let records = self.stash.keys().next().copied().filter(|&time| ready(time));
                let timers = self.event_timers.first_time().filter(|&timestamp| passed(timestamp));
                if let (None, Some(timestamp)) = (frontier, timers) {
                    self.claim_for_end(timestamp);
                }
                let next = match (records, timers) {
                    (Some(time), Some(timestamp)) => Some(time.min(timestamp)),
                    (time, timestamp) => time.or(timestamp),
                };
                if let Some(checkpoint) = self.snapshot_due(frontier, next) {
                    self.snapshot(checkpoint);
                    continue;
                }
                match (records, timers) {
                    (Some(time), Some(timestamp)) if timestamp < time => {
                        self.fire_event_timers(timestamp, main, side)
                    }
                    (Some(time), _) => self.apply_records(time, main, side),
                    (None, Some(timestamp)) => self.fire_event_timers(timestamp, main, side),
                    (None, None) => break,
                }
            }
            // Outputs of processing-time timers are carried at the frontier, or after the input
            // has ended, no earlier than the last checkpoint taken.
            let floor = frontier.or(self.checkpoints.as_ref().map(|checkpoints| checkpoints.last_time));
            if let (Some(floor), Some(capabilities)) = (floor, self.processing_capabilities.as_mut()) {
                capabilities.downgrade(floor);
            }
            let until = if frontier.is_some() { Some(self.processing_time) } else { None };
            self.fire_processing_timers(until, main, side);
            // At the end of input, processing-time timers may have registered event-time timers.
            if frontier.is_some() || self.event_timers.is_empty() {
                break;
            }
        }
        match (frontier, self.event_timers.first_time(), self.timer_capabilities.as_mut()) {
            (_, None, _) => self.timer_capabilities = None,
            (_, Some(first), Some(capabilities)) => capabilities.downgrade(first),
            (_, Some(_), None) => {}
        }
        if frontier.is_none() {
            while let Some(checkpoint) = self.snapshot_due(None, None) {
                self.snapshot(checkpoint);
            }
            if self.checkpoints.as_ref().is_some_and(|checkpoints| !checkpoints.ended) {
                self.snapshot(FINAL);
                if let Some(checkpoints) = self.checkpoints.as_mut() {
                    checkpoints.ended = true;
                }
            }
        }
        self.store.sweep(TtlNow { event: self.applied_watermark, processing: self.processing_time });
    }
}

/// Appends received records to the stash entry of their message's time, holding capabilities
/// for that time.
fn stash_items<A, B>(
    stash: &mut BTreeMap<u64, Pending<A, B>>,
    capability: &timely::dataflow::operators::InputCapability<u64>,
    items: impl ExactSizeIterator<Item = Item<A, B>>,
) {
    let Some(&time) = capability.least() else { return };
    let pending = stash.entry(time).or_insert_with(|| Pending {
        capabilities: Capabilities { main: capability.delayed(&time, 0), side: capability.delayed(&time, 1) },
        items: Vec::new(),
    });
    pending.items.reserve(items.len());
    pending.items.extend(items);
}

/// Builds a keyed operator over one or two inputs.
pub(crate) fn keyed_operator<'scope, K: Key, A: Data, B: Data, O: Clone + 'static>(
    context: StreamContext<'scope>,
    name: &str,
    first: (RecordStream<'scope, A>, KeyFn<K, A>),
    second: Option<(RecordStream<'scope, B>, KeyFn<K, B>)>,
    mut logic: impl KeyedLogic<K, A, B, O> + 'static,
) -> DataStream<'scope, O> {
    let scope = context.scope;
    let runtime: Runtime = context.runtime.clone();
    let operator_id = context.next_operator_id();
    let uid = context.new_uid("keyed");
    let checkpoints = context.participant().map(|participant| KeyedCheckpoints {
        participant,
        uid: Rc::clone(&uid),
        claimed: 0,
        last_time: 0,
        ended: false,
    });
    let peers = scope.peers();
    let worker_index = scope.index();
    let mut builder = OperatorBuilder::new(name.to_owned(), scope);
    uid.bind(&builder.operator_info().address);
    let activator = scope.activator_for(builder.operator_info().address);

    let route_first = Rc::clone(&first.1);
    let mut input_first = builder.new_input(
        first.0,
        Exchange::new(move |record: &Record<A>| {
            worker_for_hash(key_hash(&route_first(&record.value)), peers) as u64
        }),
    );
    let key_second = second.as_ref().map(|(_, key)| Rc::clone(key));
    let mut input_second = second.map(|(stream, key)| {
        builder.new_input(
            stream,
            Exchange::new(move |record: &Record<B>| {
                worker_for_hash(key_hash(&key(&record.value)), peers) as u64
            }),
        )
    });
    let (main_output, main_stream) = builder.new_output::<Vec<Record<O>>>();
    let (side_output, side_stream) = builder.new_output::<Vec<Record<SideRecord>>>();
    let mut main_output = OutputBuilder::from(main_output);
    let mut side_output = OutputBuilder::from(side_output);

    builder.build(move |mut capabilities| {
        let side = capabilities.pop().expect("an initial capability for the side output");
        let main = capabilities.pop().expect("an initial capability for the main output");
        let mut initial = Some(Capabilities { main, side });
        let mut store = StateStore::new();
        logic.open(&mut OpenContext { store: &mut store, worker_index });
        let mut engine = Engine {
            logic,
            key_first: first.1,
            key_second,
            stash: BTreeMap::new(),
            store,
            event_timers: TimerQueue::new(),
            processing_timers: TimerQueue::new(),
            timer_capabilities: None,
            processing_capabilities: None,
            out: Vec::new(),
            side: Vec::new(),
            operator_id,
            processing_time: 0,
            applied_watermark: 0,
            record_order: runtime.record_order,
            checkpoints,
        };
        move |frontiers| {
            if let Some(initial) = initial.take() {
                if let Err(error) = engine.restore(&initial, peers, worker_index) {
                    runtime.shared.fail(error);
                }
            }
            let stash = &mut engine.stash;
            input_first.for_each(|capability, batch| {
                let items = batch.drain(..).map(|record| Item {
                    timestamp: record.timestamp,
                    tag: record.tag,
                    input: Input::First(record.value),
                });
                stash_items(stash, &capability, items);
            });
            if let Some(input) = input_second.as_mut() {
                input.for_each(|capability, batch| {
                    let items = batch.drain(..).map(|record| Item {
                        timestamp: record.timestamp,
                        tag: record.tag,
                        input: Input::Second(record.value),
                    });
                    stash_items(stash, &capability, items);
                });
            }
            if runtime.shared.failed() || runtime.shared.halted() {
                engine.stash.clear();
                engine.timer_capabilities = None;
                engine.processing_capabilities = None;
                return;
            }
            let frontier =
                frontiers.iter().filter_map(|frontier| frontier.frontier().iter().next().copied()).min();
            engine.processing_time = runtime.clock.now_ms();
            if let Some(checkpoints) = engine.checkpoints.as_mut() {
                checkpoints.participant.refresh();
            }
            let mut main = main_output.activate();
            let mut side = side_output.activate();
            engine.advance(frontier, &mut main, &mut side);
            if frontier.is_some() {
                if let Some(next) = engine.processing_timers.first_time() {
                    activator.activate_after(runtime.clock.real_delay_until(next));
                }
            }
        }
    });
    DataStream::from_stream(context, main_stream).with_side(side_stream).with_uid(uid)
}
