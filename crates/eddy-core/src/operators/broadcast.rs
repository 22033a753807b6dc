//! Broadcast state (Flink's broadcast state pattern): a low-volume stream of rules or
//! configuration, sent to every worker with [`DataStream::broadcast`], kept in a map on each
//! worker, and read while a (keyed or not) data stream is processed.
//!
//! * `rules.broadcast(MapStateDescriptor::new("rules"))` makes a [`BroadcastStream`].
//! * `keyed.connect(rules).process(f)` applies a [`KeyedBroadcastProcessFunction`]: data
//!   records with keyed state (as in `KeyedStream::process`) and read-only broadcast state;
//!   broadcast records with read-write broadcast state and
//!   [`KeyedBroadcastContext::apply_to_keyed_state`] over every key of the worker.
//! * `stream.connect_broadcast(rules).process(f)` applies a [`BroadcastProcessFunction`]
//!   to a non-keyed stream (records stay on their worker).
//!
//! # Event time
//! The operator applies a logical time `t` once the frontier of both inputs has passed it, so
//! every record of `t` is present. Within `t` the order is fixed, whatever the arrival order
//! and the number of workers:
//! 1. every broadcast record of `t`, in (event time, origin tag) order, on every worker;
//! 2. then every data record of `t`, in (key hash, event time, origin tag) order.
//!
//! A rule update and a data record of the same logical time therefore always meet as "rule
//! first". Outputs are carried at the logical time of the record that produced them.
//! Outputs of `process_broadcast_element` are emitted by worker 0 only: every worker runs the
//! function on the same records with the same broadcast state (so its state changes happen
//! everywhere), but its output appears once, not once per worker as in Flink, so that the
//! output does not depend on the number of workers.
//!
//! # State
//! The broadcast state is a map from `BK` to `BV`, identical on every worker, iterated in key
//! order. Keyed state (registered in `open`) lives on the worker owning the key. Timers are
//! not offered to broadcast functions (use a `KeyedCoProcessFunction` for timers).
//!
//! # Checkpointing
//! One part per worker holds that worker's keyed state; the broadcast map is written once, by
//! worker 0 (every worker holds the same map). A restore at any parallelism gives every new
//! worker the map from old worker 0's part and the keys whose hash falls in its range.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

use crate::checkpoint::control::Participant;
use crate::checkpoint::keyed::{copy_keyed, parse_keyed};
use crate::checkpoint::part::{PartKind, FINAL};
use crate::error::{Error, Result};
use crate::hash::{key_hash, mix, worker_for_hash};
use crate::operators::keyed::KeyedStream;
use crate::operators::process::{Key, KeyFn};
use crate::record::{Data, Record};
use crate::runtime::{Runtime, UidSlot};
use crate::state::{decode, encode, KeyedStateAccess, OpenContext, StateParts, StateStore, TtlNow};
use crate::stream::{DataStream, RecordStream};
use crate::timers::TimerQueue;

/// Names the broadcast map state and its types (Flink's `MapStateDescriptor`).
pub struct MapStateDescriptor<BK, BV> {
    name: String,
    types: PhantomData<fn() -> (BK, BV)>,
}

impl<BK, BV> Clone for MapStateDescriptor<BK, BV> {
    fn clone(&self) -> Self {
        MapStateDescriptor { name: self.name.clone(), types: PhantomData }
    }
}

impl<BK, BV> MapStateDescriptor<BK, BV> {
    /// A descriptor named `name` (the name appears in errors and `eddy inspect`).
    pub fn new(name: impl Into<String>) -> Self {
        MapStateDescriptor { name: name.into(), types: PhantomData }
    }

    /// The state's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The broadcast state: a map, the same on every worker, iterated in key order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BroadcastState<BK: Ord, BV> {
    map: BTreeMap<BK, BV>,
}

impl<BK: Ord, BV> BroadcastState<BK, BV> {
    /// The value of `key`, if any.
    pub fn get(&self, key: &BK) -> Option<&BV> {
        self.map.get(key)
    }
    /// Whether `key` has a value.
    pub fn contains(&self, key: &BK) -> bool {
        self.map.contains_key(key)
    }
    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&BK, &BV)> {
        self.map.iter()
    }
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Sets `key` to `value`, returning the previous value.
    pub fn put(&mut self, key: BK, value: BV) -> Option<BV> {
        self.map.insert(key, value)
    }
    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &BK) -> Option<BV> {
        self.map.remove(key)
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear()
    }
}

/// A stream whose records go to every worker, with the descriptor of the state they update.
pub struct BroadcastStream<'scope, B, BK, BV> {
    stream: DataStream<'scope, B>,
    descriptor: MapStateDescriptor<BK, BV>,
}

impl<'scope, B: Data> DataStream<'scope, B> {
    /// Broadcasts this stream: every worker receives every record (Flink's
    /// `broadcast(descriptor)`). Connect it to a data stream with `KeyedStream::connect` or
    /// [`DataStream::connect_broadcast`].
    pub fn broadcast<BK, BV>(
        self,
        descriptor: MapStateDescriptor<BK, BV>,
    ) -> BroadcastStream<'scope, B, BK, BV> {
        BroadcastStream { stream: self, descriptor }
    }
}

/// Emits records with deterministic tags (see `crate::record`).
struct Emitter<'a, O> {
    out: &'a mut Vec<Record<O>>,
    tag_base: u64,
    emitted: u64,
    /// Whether outputs are kept (broadcast-side outputs are kept on worker 0 only).
    keep: bool,
}

impl<O> Emitter<'_, O> {
    fn emit(&mut self, value: O, timestamp: u64) {
        self.emitted += 1;
        if self.keep {
            self.out.push(Record::new(timestamp, mix(self.tag_base, self.emitted), value));
        }
    }
}

macro_rules! common_context_methods {
    () => {
        /// The event time of the current record.
        pub fn timestamp(&self) -> u64 {
            self.timestamp
        }
        /// The operator's watermark (frontier semantics: the logical time being applied).
        pub fn current_watermark(&self) -> u64 {
            self.watermark
        }
        /// Emits a value carrying the current record's event time.
        pub fn emit(&mut self, value: O) {
            self.emitter.emit(value, self.timestamp);
        }
        /// Emits a value with the given event time.
        pub fn emit_with_timestamp(&mut self, value: O, timestamp: u64) {
            self.emitter.emit(value, timestamp);
        }
    };
}

/// What a [`BroadcastProcessFunction`] sees while it handles a data record: the broadcast
/// state, read-only.
pub struct ReadOnlyContext<'a, BK: Ord, BV, O> {
    timestamp: u64,
    watermark: u64,
    state: &'a BroadcastState<BK, BV>,
    emitter: Emitter<'a, O>,
}

impl<BK: Ord, BV, O> ReadOnlyContext<'_, BK, BV, O> {
    common_context_methods!();
    /// The broadcast state, read-only.
    pub fn broadcast_state(&self) -> &BroadcastState<BK, BV> {
        self.state
    }
}

/// What a broadcast function sees while it handles a broadcast record: the broadcast state,
/// read-write.
pub struct BroadcastContext<'a, BK: Ord, BV, O> {
    timestamp: u64,
    watermark: u64,
    state: &'a mut BroadcastState<BK, BV>,
    emitter: Emitter<'a, O>,
}

impl<BK: Ord, BV, O> BroadcastContext<'_, BK, BV, O> {
    common_context_methods!();
    /// The broadcast state, read-write.
    pub fn broadcast_state(&mut self) -> &mut BroadcastState<BK, BV> {
        self.state
    }
}

/// What a [`KeyedBroadcastProcessFunction`] sees while it handles a data record: the current
/// key, its keyed state (pass the context to the state handles) and the broadcast state,
/// read-only.
pub struct KeyedReadOnlyContext<'a, K, BK: Ord, BV, O> {
    key: &'a K,
    timestamp: u64,
    watermark: u64,
    now: TtlNow,
    store: &'a mut StateStore<K>,
    state: &'a BroadcastState<BK, BV>,
    emitter: Emitter<'a, O>,
}

impl<K, BK: Ord, BV, O> KeyedReadOnlyContext<'_, K, BK, BV, O> {
    common_context_methods!();
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }
    /// The broadcast state, read-only.
    pub fn broadcast_state(&self) -> &BroadcastState<BK, BV> {
        self.state
    }
}

impl<K: Key, BK: Ord, BV, O> KeyedStateAccess for KeyedReadOnlyContext<'_, K, BK, BV, O> {
    type Key = K;
    fn state_parts(&mut self) -> StateParts<'_, K> {
        StateParts { key: self.key, store: self.store, now: self.now }
    }
}

/// What a [`KeyedBroadcastProcessFunction`] sees while it handles a broadcast record: the
/// broadcast state, read-write, and [`apply_to_keyed_state`](Self::apply_to_keyed_state).
pub struct KeyedBroadcastContext<'a, K, BK: Ord, BV, O> {
    timestamp: u64,
    watermark: u64,
    now: TtlNow,
    store: &'a mut StateStore<K>,
    state: &'a mut BroadcastState<BK, BV>,
    emitter: Emitter<'a, O>,
}

/// One key's state inside [`KeyedBroadcastContext::apply_to_keyed_state`]: pass it to the
/// state handles as you would a keyed context.
pub struct KeyedStateView<'a, K> {
    key: &'a K,
    now: TtlNow,
    store: &'a mut StateStore<K>,
}

impl<K> KeyedStateView<'_, K> {
    /// The key whose state this is.
    pub fn key(&self) -> &K {
        self.key
    }
}

impl<K: Key> KeyedStateAccess for KeyedStateView<'_, K> {
    type Key = K;
    fn state_parts(&mut self) -> StateParts<'_, K> {
        StateParts { key: self.key, store: self.store, now: self.now }
    }
}

impl<K: Key, BK: Ord, BV, O> KeyedBroadcastContext<'_, K, BK, BV, O> {
    common_context_methods!();
    /// The broadcast state, read-write.
    pub fn broadcast_state(&mut self) -> &mut BroadcastState<BK, BV> {
        self.state
    }

    /// Calls `function` with every key of this worker that has keyed state, in (key hash,
    /// encoded key) order (Flink's `applyToKeyedState`). Every worker visits its own keys, so
    /// together they visit each key once.
    pub fn apply_to_keyed_state(&mut self, mut function: impl FnMut(&mut KeyedStateView<'_, K>)) {
        let mut keys: Vec<(u64, Vec<u8>, K)> = self
            .store
            .keys()
            .into_iter()
            .map(|key| (key_hash(&key), encode(&key).unwrap_or_default(), key))
            .collect();
        keys.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (_, _, key) in keys {
            function(&mut KeyedStateView { key: &key, now: self.now, store: self.store });
        }
    }
}

/// A function over a non-keyed data stream and a broadcast stream (Flink's
/// `BroadcastProcessFunction`). See the [module docs](self) for the order of application.
pub trait BroadcastProcessFunction<I, B, BK: Ord, BV, O> {
    /// Called for every data record, with the broadcast state read-only.
    fn process_element(&mut self, value: I, ctx: &mut ReadOnlyContext<'_, BK, BV, O>);
    /// Called for every broadcast record on every worker, with the broadcast state read-write.
    fn process_broadcast_element(&mut self, value: B, ctx: &mut BroadcastContext<'_, BK, BV, O>);
}

/// A function over a keyed data stream and a broadcast stream (Flink's
/// `KeyedBroadcastProcessFunction`). See the [module docs](self) for the order of
/// application.
///
/// ```no_run
/// use eddy_core::prelude::*;
///
/// /// Emits (key, amount) for amounts above the threshold rule of the record's key class.
/// struct Alerts;
///
/// impl KeyedBroadcastProcessFunction<String, (String, u64), (String, u64), String, u64, (String, u64)>
///     for Alerts
/// {
///     fn process_element(
///         &mut self,
///         (key, amount): (String, u64),
///         ctx: &mut KeyedReadOnlyContext<'_, String, String, u64, (String, u64)>,
///     ) {
///         let threshold = ctx.broadcast_state().get(&"default".to_owned()).copied().unwrap_or(u64::MAX);
///         if amount > threshold {
///             ctx.emit((key, amount));
///         }
///     }
///     fn process_broadcast_element(
///         &mut self,
///         (name, threshold): (String, u64),
///         ctx: &mut KeyedBroadcastContext<'_, String, String, u64, (String, u64)>,
///     ) {
///         ctx.broadcast_state().put(name, threshold);
///     }
/// }
/// # fn build<'s>(payments: DataStream<'s, (String, u64)>, rules: DataStream<'s, (String, u64)>) {
/// let rules = rules.broadcast(MapStateDescriptor::<String, u64>::new("thresholds"));
/// let alerts = payments.key_by(|(key, _)| key.clone()).connect(rules).process(Alerts);
/// # }
/// ```
pub trait KeyedBroadcastProcessFunction<K, I, B, BK: Ord, BV, O> {
    /// Registers keyed state; called once per worker before any record.
    fn open(&mut self, _ctx: &mut OpenContext<'_, K>) {}
    /// Called for every data record with its key's state and the broadcast state read-only.
    fn process_element(&mut self, value: I, ctx: &mut KeyedReadOnlyContext<'_, K, BK, BV, O>);
    /// Called for every broadcast record on every worker, with the broadcast state
    /// read-write.
    fn process_broadcast_element(&mut self, value: B, ctx: &mut KeyedBroadcastContext<'_, K, BK, BV, O>);
}

/// A non-keyed data stream connected with a broadcast stream.
pub struct BroadcastConnectedStream<'scope, I, B, BK, BV> {
    data: DataStream<'scope, I>,
    broadcast: BroadcastStream<'scope, B, BK, BV>,
}

/// A keyed data stream connected with a broadcast stream.
pub struct KeyedBroadcastConnectedStream<'scope, K, I, B, BK, BV> {
    data: KeyedStream<'scope, K, I>,
    broadcast: BroadcastStream<'scope, B, BK, BV>,
}

impl<'scope, I: Data> DataStream<'scope, I> {
    /// Connects this (non-keyed) stream with a broadcast stream (Flink's
    /// `dataStream.connect(broadcastStream)`).
    pub fn connect_broadcast<B, BK, BV>(
        self,
        broadcast: BroadcastStream<'scope, B, BK, BV>,
    ) -> BroadcastConnectedStream<'scope, I, B, BK, BV> {
        BroadcastConnectedStream { data: self, broadcast }
    }
}

impl<'scope, K: Key, I: Data> KeyedStream<'scope, K, I> {
    /// Connects this keyed stream with a broadcast stream (Flink's
    /// `keyedStream.connect(broadcastStream)`).
    pub fn connect<B, BK, BV>(
        self,
        broadcast: BroadcastStream<'scope, B, BK, BV>,
    ) -> KeyedBroadcastConnectedStream<'scope, K, I, B, BK, BV> {
        KeyedBroadcastConnectedStream { data: self, broadcast }
    }
}

/// The state types of a broadcast map.
pub trait BroadcastKey: Data + Ord {}
impl<T: Data + Ord> BroadcastKey for T {}

impl<'scope, I: Data, B: Data, BK: BroadcastKey, BV: Data> BroadcastConnectedStream<'scope, I, B, BK, BV> {
    /// Applies a broadcast process function; data records stay on their worker.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl BroadcastProcessFunction<I, B, BK, BV, O> + 'static,
    ) -> DataStream<'scope, O> {
        build(self.data, Rc::new(|_: &I| ()), false, self.broadcast, NonKeyed(function))
    }
}

impl<'scope, K: Key, I: Data, B: Data, BK: BroadcastKey, BV: Data>
    KeyedBroadcastConnectedStream<'scope, K, I, B, BK, BV>
{
    /// Applies a keyed broadcast process function; data records go to the worker owning
    /// their key.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl KeyedBroadcastProcessFunction<K, I, B, BK, BV, O> + 'static,
    ) -> DataStream<'scope, O> {
        let key = Rc::clone(&self.data.key);
        build(self.data.stream, key, true, self.broadcast, function)
    }
}

/// Adapts a non-keyed function to the keyed engine (key `()`, no keyed state).
struct NonKeyed<F>(F);

impl<I, B, BK: Ord, BV, O, F: BroadcastProcessFunction<I, B, BK, BV, O>>
    KeyedBroadcastProcessFunction<(), I, B, BK, BV, O> for NonKeyed<F>
{
    fn process_element(&mut self, value: I, ctx: &mut KeyedReadOnlyContext<'_, (), BK, BV, O>) {
        let mut context = ReadOnlyContext {
            timestamp: ctx.timestamp,
            watermark: ctx.watermark,
            state: ctx.state,
            emitter: Emitter { out: ctx.emitter.out, tag_base: ctx.emitter.tag_base, emitted: 0, keep: true },
        };
        self.0.process_element(value, &mut context);
    }
    fn process_broadcast_element(&mut self, value: B, ctx: &mut KeyedBroadcastContext<'_, (), BK, BV, O>) {
        let mut context = BroadcastContext {
            timestamp: ctx.timestamp,
            watermark: ctx.watermark,
            state: ctx.state,
            emitter: Emitter {
                out: ctx.emitter.out,
                tag_base: ctx.emitter.tag_base,
                emitted: 0,
                keep: ctx.emitter.keep,
            },
        };
        self.0.process_broadcast_element(value, &mut context);
    }
}

/// The records of one logical time, with a capability for it.
struct Pending<I, B> {
    capability: Capability<u64>,
    broadcast: Vec<Record<B>>,
    data: Vec<Record<I>>,
}

/// The part format: a flag byte (1: the broadcast map follows), the map's length (u32 little
/// endian) and MessagePack bytes, then a keyed part (`checkpoint::keyed`).
const PART_KIND: &str = "broadcast";

struct Engine<K, I, B, BK: Ord, BV, O, F> {
    function: F,
    key: KeyFn<K, I>,
    stash: BTreeMap<u64, Pending<I, B>>,
    state: BroadcastState<BK, BV>,
    store: StateStore<K>,
    out: Vec<Record<O>>,
    operator_id: u64,
    worker: usize,
    peers: usize,
    processing_time: u64,
    participant: Option<Participant>,
    uid: Rc<UidSlot>,
    ended: bool,
}

impl<K, I, B, BK, BV, O, F> Engine<K, I, B, BK, BV, O, F>
where
    K: Key,
    I: Data,
    B: Data,
    BK: BroadcastKey,
    BV: Data,
    O: Clone + 'static,
    F: KeyedBroadcastProcessFunction<K, I, B, BK, BV, O>,
{
    /// Applies every record of `time`: broadcast records first, then data records.
    fn apply(&mut self, time: u64) -> Option<Capability<u64>> {
        let Pending { capability, mut broadcast, data } = self.stash.remove(&time)?;
        let now = TtlNow { event: time, processing: self.processing_time };
        broadcast.sort_by_key(|record| (record.timestamp, record.tag));
        for record in broadcast {
            let mut ctx = KeyedBroadcastContext {
                timestamp: record.timestamp,
                watermark: time,
                now,
                store: &mut self.store,
                state: &mut self.state,
                emitter: Emitter {
                    out: &mut self.out,
                    tag_base: mix(mix(record.tag, self.operator_id), 1),
                    emitted: 0,
                    keep: self.worker == 0,
                },
            };
            self.function.process_broadcast_element(record.value, &mut ctx);
        }
        let mut keyed: Vec<(u64, u64, u64, K, I)> = data
            .into_iter()
            .map(|record| {
                let key = (self.key)(&record.value);
                (key_hash(&key), record.timestamp, record.tag, key, record.value)
            })
            .collect();
        keyed.sort_by_key(|entry| (entry.0, entry.1, entry.2));
        for (_, timestamp, tag, key, value) in keyed {
            let mut ctx = KeyedReadOnlyContext {
                key: &key,
                timestamp,
                watermark: time,
                now,
                store: &mut self.store,
                state: &self.state,
                emitter: Emitter {
                    out: &mut self.out,
                    tag_base: mix(tag, self.operator_id),
                    emitted: 0,
                    keep: true,
                },
            };
            self.function.process_element(value, &mut ctx);
        }
        Some(capability)
    }

    /// This worker's part: the broadcast map (worker 0 only) and its keyed state.
    fn snapshot(&mut self, checkpoint: u64) -> Result<()> {
        let Some(participant) = self.participant.as_mut() else { return Ok(()) };
        let mut head = Vec::new();
        if self.worker == 0 {
            let entries: Vec<(&BK, &BV)> = self.state.iter().collect();
            let map = encode(&entries)?;
            head.push(1);
            head.extend_from_slice(&u32::try_from(map.len()).map_err(|_| too_large())?.to_le_bytes());
            head.extend_from_slice(&map);
        } else {
            head.push(0);
        }
        let copy = copy_keyed(&self.store, &TimerQueue::new(), &TimerQueue::new());
        let uid = self.uid.get();
        let kind = PartKind::custom(PART_KIND)?;
        participant.submit_deferred(
            checkpoint,
            &uid,
            kind,
            Box::new(move || {
                let (keyed, keys) = copy.encode()?;
                head.extend_from_slice(&keyed);
                Ok((head, keys))
            }),
        );
        Ok(())
    }

    /// Restores the broadcast map from old worker 0's part and the keys this worker owns.
    fn restore(&mut self) -> Result<()> {
        let Some(restored) = self.participant.as_ref().and_then(Participant::restored).cloned() else {
            return Ok(());
        };
        let uid = self.uid.get();
        let Some(operator) = restored.operator(&uid) else { return Ok(()) };
        let broken = |what: &str| Error::Checkpoint(format!("broadcast operator `{uid}`: {what}"));
        let mut found_map = false;
        for (_, bytes) in &operator.parts {
            let (&flag, rest) = bytes.split_first().ok_or_else(|| broken("empty part"))?;
            let keyed = match flag {
                0 => rest,
                1 => {
                    let length = rest.get(..4).ok_or_else(|| broken("truncated part"))?;
                    let length = u32::from_le_bytes(length.try_into().expect("four bytes")) as usize;
                    let map = rest.get(4..4 + length).ok_or_else(|| broken("truncated broadcast state"))?;
                    let entries: Vec<(BK, BV)> = decode(map, &format!("the broadcast state of `{uid}`"))?;
                    self.state.map = entries.into_iter().collect();
                    found_map = true;
                    &rest[4 + length..]
                }
                other => return Err(broken(&format!("unknown part flag {other}"))),
            };
            let part = parse_keyed(keyed).map_err(|error| broken(&error.to_string()))?;
            for entry in part.entries {
                if worker_for_hash(entry.hash, self.peers) != self.worker {
                    continue;
                }
                let key: K = decode(entry.key, &format!("a key of operator `{uid}`"))?;
                for (name, value) in entry.values {
                    self.store.restore_row(name, key.clone(), value)?;
                }
            }
        }
        if !found_map {
            return Err(broken("no part holds the broadcast state"));
        }
        Ok(())
    }

    /// Applies what the frontier allows, snapshotting owed checkpoints in between.
    fn advance(
        &mut self,
        frontier: Option<u64>,
        mut emit: impl FnMut(&Capability<u64>, &mut Vec<Record<O>>),
    ) -> Result<()> {
        let ready = |time: u64| frontier.is_none_or(|frontier| time < frontier);
        loop {
            let next = self.stash.keys().next().copied().filter(|&time| ready(time));
            if let Some(pending) = self.participant.as_mut().and_then(|participant| {
                participant.refresh();
                participant.next()
            }) {
                let passed = frontier.is_none_or(|frontier| frontier >= pending.time);
                if passed && next.is_none_or(|next| next >= pending.time) {
                    self.snapshot(pending.id)?;
                    continue;
                }
            }
            let Some(time) = next else { break };
            if let Some(capability) = self.apply(time) {
                if !self.out.is_empty() {
                    emit(&capability, &mut self.out);
                    self.out.clear();
                }
            }
        }
        if frontier.is_none() && !self.ended && self.participant.is_some() {
            self.ended = true;
            self.snapshot(FINAL)?;
        }
        self.store.sweep(TtlNow { event: frontier.unwrap_or(u64::MAX), processing: self.processing_time });
        Ok(())
    }
}

fn too_large() -> Error {
    Error::Checkpoint("broadcast state larger than 4 GiB".into())
}

/// Builds the operator: the broadcast input replicated to every worker, the data input
/// exchanged by key (or kept local).
fn build<'scope, K, I, B, BK, BV, O, F>(
    data: DataStream<'scope, I>,
    key: KeyFn<K, I>,
    keyed: bool,
    broadcast: BroadcastStream<'scope, B, BK, BV>,
    function: F,
) -> DataStream<'scope, O>
where
    K: Key,
    I: Data,
    B: Data,
    BK: BroadcastKey,
    BV: Data,
    O: Clone + 'static,
    F: KeyedBroadcastProcessFunction<K, I, B, BK, BV, O> + 'static,
{
    let context = data.context.clone();
    let scope = context.scope;
    let runtime: Runtime = context.runtime.clone();
    let operator_id = context.next_operator_id();
    let uid = context.new_uid("broadcast");
    let participant = context.participant();
    let peers = scope.peers();
    let worker = scope.index();
    let name = broadcast.descriptor.name().to_owned();
    let replicated: RecordStream<'scope, (u64, B)> = broadcast
        .stream
        .stage(
            "Broadcast",
            Box::new(move |batch, out| {
                for record in batch.drain(..) {
                    out.extend(
                        (0..peers as u64)
                            .map(|to| Record::new(record.timestamp, record.tag, (to, record.value.clone()))),
                    );
                }
            }),
        )
        .into_timely();
    let data = data.into_timely();

    let mut builder = OperatorBuilder::new(format!("BroadcastProcess({name})"), scope);
    uid.bind(&builder.operator_info().address);
    let mut broadcast_input =
        builder.new_input(replicated, Exchange::new(|record: &Record<(u64, B)>| record.value.0));
    // Non-keyed data stays on its worker: the exchange function runs on the sending worker.
    let route = Rc::clone(&key);
    let mut data_input = builder.new_input(
        data,
        Exchange::new(move |record: &Record<I>| match keyed {
            true => worker_for_hash(key_hash(&route(&record.value)), peers) as u64,
            false => worker as u64,
        }),
    );
    let (output, stream) = builder.new_output::<Vec<Record<O>>>();
    let mut output = OutputBuilder::from(output);
    let mut function = function;
    let engine_uid = Rc::clone(&uid);

    builder.build(move |_capabilities| {
        let mut store = StateStore::new();
        function.open(&mut OpenContext { store: &mut store, worker_index: worker });
        let mut engine = Engine {
            function,
            key,
            stash: BTreeMap::new(),
            state: BroadcastState { map: BTreeMap::new() },
            store,
            out: Vec::new(),
            operator_id,
            worker,
            peers,
            processing_time: 0,
            participant,
            uid: engine_uid,
            ended: false,
        };
        let mut restored = false;
        move |frontiers| {
            if !std::mem::replace(&mut restored, true) {
                if let Err(error) = engine.restore() {
                    runtime.shared.fail(error);
                }
            }
            let stash = &mut engine.stash;
            // Two closures cannot both borrow the stash mutably: collect first.
            let mut arrived_broadcast: Vec<(u64, Capability<u64>, Vec<Record<B>>)> = Vec::new();
            broadcast_input.for_each(|capability, batch| {
                let time = *capability.least().expect("a message has a time");
                let records =
                    batch.drain(..).map(|record| Record::new(record.timestamp, record.tag, record.value.1));
                arrived_broadcast.push((time, capability.delayed(&time, 0), records.collect()));
            });
            for (time, capability, mut records) in arrived_broadcast {
                stash
                    .entry(time)
                    .or_insert_with(|| Pending { capability, broadcast: Vec::new(), data: Vec::new() })
                    .broadcast
                    .append(&mut records);
            }
            data_input.for_each(|capability, batch| {
                let time = *capability.least().expect("a message has a time");
                stash
                    .entry(time)
                    .or_insert_with(|| Pending {
                        capability: capability.delayed(&time, 0),
                        broadcast: Vec::new(),
                        data: Vec::new(),
                    })
                    .data
                    .append(batch);
            });
            if runtime.shared.failed() || runtime.shared.halted() {
                engine.stash.clear();
                return;
            }
            let frontier =
                frontiers.iter().filter_map(|frontier| frontier.frontier().iter().next().copied()).min();
            engine.processing_time = runtime.clock.now_ms();
            let mut output = output.activate();
            let result =
                engine.advance(frontier, |capability, out| output.session(capability).give_container(out));
            if let Err(error) = result {
                runtime.shared.fail(error);
            }
        }
    });
    DataStream::from_stream(context, stream).with_uid(uid)
}
