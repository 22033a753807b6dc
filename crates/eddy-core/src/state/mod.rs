//! Keyed state: value, list, map, reducing and aggregating state, scoped to the current key,
//! with optional time-to-live.
//!
//! # State
//! A keyed operator owns one [`StateStore`] per worker holding every key routed to that
//! worker. Functions register state in `open` and get back small typed handles
//! ([`ValueState`], [`ListState`], ...). A handle reads and writes the state of the key the
//! operator is currently processing, through the context passed to the callback; there is no
//! way to reach another key's state.
//!
//! With a [`StateTtlConfig`], each value (each list element, each map entry) remembers when it
//! was last written (or read, with [`TtlUpdate::OnReadAndWrite`]) and is never returned once
//! `ttl` has passed in the configured time domain: the current watermark for event time, the
//! injected clock for processing time. Expired entries are also swept in the background so
//! state stays bounded.

mod handles;

use std::any::Any;
use std::hash::Hash;

pub use handles::{AggregateFunction, AggregatingState, ListState, MapState, ReducingState, ValueState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::HashMap;

/// The bounds of a value kept in keyed state: checkpoints serialize it (MessagePack, with
/// struct field names, so adding a field with `#[serde(default)]` keeps old checkpoints
/// readable).
/// State values are `Send` so a checkpoint can copy them on the worker and encode the copy on
/// another thread.
pub trait StateValue: Clone + Serialize + DeserializeOwned + Send + 'static {}
impl<T: Clone + Serialize + DeserializeOwned + Send + 'static> StateValue for T {}

/// Encodes a value for a checkpoint.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    encode_into(&mut bytes, value)?;
    Ok(bytes)
}

/// Appends a value's checkpoint encoding (MessagePack with field names) to `buffer`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(buffer: &mut Vec<u8>, value: &T) -> Result<()> {
    rmp_serde::encode::write_named(buffer, value)
        .map_err(|error| Error::Checkpoint(format!("encoding state: {error}")))
}

/// Decodes a value from a checkpoint; `what` names it in the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    rmp_serde::from_slice(bytes).map_err(|error| {
        Error::Checkpoint(format!("{what}: cannot decode the checkpointed value as this type: {error}"))
    })
}

/// Which clock state time-to-live is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlTimeDomain {
    /// The operator's current watermark (deterministic).
    EventTime,
    /// The job's injected processing-time clock.
    ProcessingTime,
}

/// Which accesses restart an entry's time-to-live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlUpdate {
    /// Creation and every write.
    OnCreateAndWrite,
    /// Creation, every write and every read.
    OnReadAndWrite,
}

/// Time-to-live for a piece of keyed state. Expired values are never returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTtlConfig {
    /// How long an entry lives after its last update, in milliseconds.
    pub ttl_ms: u64,
    /// What counts as an update.
    pub update: TtlUpdate,
    /// Which clock measures `ttl_ms`.
    pub time_domain: TtlTimeDomain,
}

impl StateTtlConfig {
    /// Entries expire `ttl_ms` of processing time after their last write.
    pub fn new(ttl_ms: u64) -> Self {
        StateTtlConfig {
            ttl_ms,
            update: TtlUpdate::OnCreateAndWrite,
            time_domain: TtlTimeDomain::ProcessingTime,
        }
    }

    /// Reads also restart the time-to-live.
    pub fn update_on_read(mut self) -> Self {
        self.update = TtlUpdate::OnReadAndWrite;
        self
    }

    /// Measure the time-to-live on event time (the watermark) instead of processing time.
    pub fn event_time(mut self) -> Self {
        self.time_domain = TtlTimeDomain::EventTime;
        self
    }

    fn now(&self, now: TtlNow) -> u64 {
        match self.time_domain {
            TtlTimeDomain::EventTime => now.event,
            TtlTimeDomain::ProcessingTime => now.processing,
        }
    }

    /// Whether an entry stamped at `stamp` has expired at `now`.
    pub(crate) fn expired(&self, stamp: u64, now: TtlNow) -> bool {
        self.now(now) >= stamp.saturating_add(self.ttl_ms)
    }
}

/// Names a piece of keyed state and its options.
#[derive(Clone, Debug)]
pub struct StateDescriptor {
    /// The state's name, unique within its operator (used in checkpoints).
    pub name: String,
    /// Optional time-to-live.
    pub ttl: Option<StateTtlConfig>,
}

impl StateDescriptor {
    /// State without time-to-live.
    pub fn new(name: impl Into<String>) -> Self {
        StateDescriptor { name: name.into(), ttl: None }
    }

    /// Adds a time-to-live.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl From<&str> for StateDescriptor {
    fn from(name: &str) -> Self {
        StateDescriptor::new(name)
    }
}

impl From<String> for StateDescriptor {
    fn from(name: String) -> Self {
        StateDescriptor::new(name)
    }
}

/// The two clocks state time-to-live may use, read once per callback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TtlNow {
    pub(crate) event: u64,
    pub(crate) processing: u64,
}

/// A value with the time of its last time-to-live update.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Stamped<T> {
    pub(crate) value: T,
    pub(crate) stamp: u64,
}

/// One registered piece of state, type-erased so a store can hold many kinds.
pub(crate) trait AnyTable<K>: Any {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Drops expired entries.
    fn sweep(&mut self, now: TtlNow);
    /// Number of keys with state in this table.
    fn key_count(&self) -> usize;
    /// A copy of every row, to encode on another thread.
    fn copy_rows(&self) -> Box<dyn RowsCopy<K>>;
    /// Puts back a row encoded by `snapshot`.
    fn restore(&mut self, key: K, bytes: &[u8], what: &str) -> Result<()>;
    /// Appends the keys with state in this table to `out`.
    fn keys_into(&self, out: &mut Vec<K>);
}

/// A table of one piece of state for all keys of one operator instance.
pub(crate) struct Table<K, S> {
    pub(crate) rows: HashMap<K, S>,
    pub(crate) ttl: Option<StateTtlConfig>,
    last_sweep: u64,
}

/// How a table's row is pruned of expired parts; `true` keeps the row.
pub(crate) trait Expire {
    fn retain_live(&mut self, ttl: &StateTtlConfig, now: TtlNow) -> bool;
}

impl<T> Expire for Stamped<T> {
    fn retain_live(&mut self, ttl: &StateTtlConfig, now: TtlNow) -> bool {
        !ttl.expired(self.stamp, now)
    }
}

impl<T> Expire for Vec<Stamped<T>> {
    fn retain_live(&mut self, ttl: &StateTtlConfig, now: TtlNow) -> bool {
        self.retain(|element| !ttl.expired(element.stamp, now));
        !self.is_empty()
    }
}

impl<UK, UV> Expire for HashMap<UK, Stamped<UV>> {
    fn retain_live(&mut self, ttl: &StateTtlConfig, now: TtlNow) -> bool {
        self.retain(|_, entry| !ttl.expired(entry.stamp, now));
        !self.is_empty()
    }
}

/// A copy of a table's rows, taken for a checkpoint.
pub(crate) trait RowsCopy<K>: Send {
    /// Encodes each row into `buffer` (cleared first) and calls `out` with its key.
    fn encode(&self, buffer: &mut Vec<u8>, out: &mut dyn FnMut(&K, &[u8])) -> Result<()>;
}

impl<K: Send, S: Serialize + Send> RowsCopy<K> for Vec<(K, S)> {
    fn encode(&self, buffer: &mut Vec<u8>, out: &mut dyn FnMut(&K, &[u8])) -> Result<()> {
        for (key, row) in self {
            buffer.clear();
            encode_into(buffer, row)?;
            out(key, buffer);
        }
        Ok(())
    }
}

impl<K, S> AnyTable<K> for Table<K, S>
where
    K: Hash + Eq + Clone + Send + 'static,
    S: Expire + Serialize + DeserializeOwned + Clone + Send + 'static,
{
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn sweep(&mut self, now: TtlNow) {
        let Some(ttl) = self.ttl else { return };
        // Sweep at most every quarter of the time-to-live: amortized O(1) per entry.
        let clock = ttl.now(now);
        if clock < self.last_sweep.saturating_add((ttl.ttl_ms / 4).max(1)) {
            return;
        }
        self.last_sweep = clock;
        self.rows.retain(|_, row| row.retain_live(&ttl, now));
    }

    fn key_count(&self) -> usize {
        self.rows.len()
    }

    fn copy_rows(&self) -> Box<dyn RowsCopy<K>> {
        Box::new(self.rows.iter().map(|(key, row)| (key.clone(), row.clone())).collect::<Vec<(K, S)>>())
    }

    fn restore(&mut self, key: K, bytes: &[u8], what: &str) -> Result<()> {
        self.rows.insert(key, decode(bytes, what)?);
        Ok(())
    }

    fn keys_into(&self, out: &mut Vec<K>) {
        out.extend(self.rows.keys().cloned());
    }
}

/// All keyed state of one operator instance.
pub struct StateStore<K> {
    tables: Vec<Box<dyn AnyTable<K>>>,
    names: Vec<String>,
}

impl<K: Hash + Eq + Clone + Send + 'static> StateStore<K> {
    pub(crate) fn new() -> Self {
        StateStore { tables: Vec::new(), names: Vec::new() }
    }

    /// Registers a table and returns its index.
    pub(crate) fn register<S: Expire + Serialize + DeserializeOwned + Clone + Send + 'static>(
        &mut self,
        descriptor: &StateDescriptor,
    ) -> usize {
        assert!(
            !self.names.contains(&descriptor.name),
            "keyed state `{}` registered twice in one operator",
            descriptor.name
        );
        self.names.push(descriptor.name.clone());
        self.tables.push(Box::new(Table::<K, S> {
            rows: HashMap::default(),
            ttl: descriptor.ttl,
            last_sweep: 0,
        }));
        self.tables.len() - 1
    }

    pub(crate) fn table<S: 'static>(&mut self, index: usize) -> &mut Table<K, S> {
        self.tables[index]
            .as_any_mut()
            .downcast_mut::<Table<K, S>>()
            .expect("a state handle was used with an operator other than the one that registered it")
    }

    pub(crate) fn sweep(&mut self, now: TtlNow) {
        for table in &mut self.tables {
            table.sweep(now);
        }
    }

    /// The names of the registered tables, in registration order.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// A copy of every table's rows, in registration order.
    pub(crate) fn copy_tables(&self) -> Vec<Box<dyn RowsCopy<K>>> {
        self.tables.iter().map(|table| table.copy_rows()).collect()
    }

    /// Puts back a row of the table named `name`; `false` if no such table is registered.
    pub(crate) fn restore_row(&mut self, name: &str, key: K, bytes: &[u8]) -> Result<bool> {
        let Some(index) = self.names.iter().position(|registered| registered == name) else {
            return Ok(false);
        };
        self.tables[index].restore(key, bytes, &format!("keyed state `{name}`"))?;
        Ok(true)
    }

    /// Every key with state in any table, once each, in no particular order.
    pub(crate) fn keys(&self) -> Vec<K> {
        let mut keys = Vec::new();
        for table in &self.tables {
            table.keys_into(&mut keys);
        }
        let mut seen: HashMap<K, ()> = HashMap::default();
        keys.retain(|key| seen.insert(key.clone(), ()).is_none());
        keys
    }

    /// The names of the registered state and how many keys each holds.
    pub fn key_counts(&self) -> Vec<(String, usize)> {
        self.names.iter().cloned().zip(self.tables.iter().map(|table| table.key_count())).collect()
    }
}

/// Access to the state of the key being processed. Implemented by the contexts handed to
/// keyed functions; users pass their context to the state handles.
pub trait KeyedStateAccess {
    /// The key type.
    type Key: Hash + Eq + Clone + Send + 'static;
    #[doc(hidden)]
    fn state_parts(&mut self) -> StateParts<'_, Self::Key>;
}

/// The current key, its operator's state and the clocks, borrowed for one state access.
#[doc(hidden)]
pub struct StateParts<'a, K> {
    pub(crate) key: &'a K,
    pub(crate) store: &'a mut StateStore<K>,
    pub(crate) now: TtlNow,
}

/// Where functions register their keyed state, in `open`.
pub struct OpenContext<'a, K> {
    pub(crate) store: &'a mut StateStore<K>,
    pub(crate) worker_index: usize,
}

impl<K: Hash + Eq + Clone + Send + 'static> OpenContext<'_, K> {
    /// The index of the worker this function instance runs on.
    pub fn worker_index(&self) -> usize {
        self.worker_index
    }

    /// Registers a value state.
    pub fn value_state<T: StateValue>(&mut self, descriptor: impl Into<StateDescriptor>) -> ValueState<T> {
        ValueState::register(self.store, &descriptor.into())
    }

    /// Registers a list state.
    pub fn list_state<T: StateValue>(&mut self, descriptor: impl Into<StateDescriptor>) -> ListState<T> {
        ListState::register(self.store, &descriptor.into())
    }

    /// Registers a map state.
    pub fn map_state<UK, UV>(&mut self, descriptor: impl Into<StateDescriptor>) -> MapState<UK, UV>
    where
        UK: Hash + Eq + StateValue,
        UV: StateValue,
    {
        MapState::register(self.store, &descriptor.into())
    }

    /// Registers a reducing state that combines added values with `reduce`.
    pub fn reducing_state<T: StateValue>(
        &mut self,
        descriptor: impl Into<StateDescriptor>,
        reduce: impl Fn(&T, &T) -> T + 'static,
    ) -> ReducingState<T> {
        ReducingState::register(self.store, &descriptor.into(), reduce)
    }

    /// Registers an aggregating state driven by `function`.
    pub fn aggregating_state<In, A: AggregateFunction<In> + 'static>(
        &mut self,
        descriptor: impl Into<StateDescriptor>,
        function: A,
    ) -> AggregatingState<In, A> {
        AggregatingState::register(self.store, &descriptor.into(), function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context over a store with a settable key and clocks.
    struct TestContext {
        key: String,
        store: StateStore<String>,
        now: TtlNow,
    }

    impl KeyedStateAccess for TestContext {
        type Key = String;
        fn state_parts(&mut self) -> StateParts<'_, String> {
            StateParts { key: &self.key, store: &mut self.store, now: self.now }
        }
    }

    fn context() -> TestContext {
        TestContext { key: "a".into(), store: StateStore::new(), now: TtlNow::default() }
    }

    fn open(ctx: &mut TestContext) -> OpenContext<'_, String> {
        OpenContext { store: &mut ctx.store, worker_index: 0 }
    }

    #[test]
    fn value_state_is_scoped_to_the_key() {
        let mut ctx = context();
        let state: ValueState<u64> = open(&mut ctx).value_state("v");
        state.update(&mut ctx, 5);
        ctx.key = "b".into();
        assert_eq!(state.value(&mut ctx), None);
        state.update(&mut ctx, 7);
        ctx.key = "a".into();
        assert_eq!(state.value(&mut ctx), Some(5));
        state.clear(&mut ctx);
        assert_eq!(state.value(&mut ctx), None);
        assert_eq!(ctx.store.key_counts(), vec![("v".to_string(), 1)]);
    }

    #[test]
    fn ttl_on_processing_time_never_returns_expired() {
        let mut ctx = context();
        let state: ValueState<u64> =
            open(&mut ctx).value_state(StateDescriptor::new("v").with_ttl(StateTtlConfig::new(100)));
        ctx.now.processing = 1_000;
        state.update(&mut ctx, 1);
        ctx.now.processing = 1_099;
        assert_eq!(state.value(&mut ctx), Some(1));
        ctx.now.processing = 1_100;
        assert_eq!(state.value(&mut ctx), None, "expired exactly at write + ttl");
        // Event time does not matter for a processing-time TTL.
        ctx.now = TtlNow { event: 0, processing: 1_200 };
        state.update(&mut ctx, 2);
        ctx.now.event = 1_000_000;
        assert_eq!(state.value(&mut ctx), Some(2));
    }

    #[test]
    fn ttl_update_on_read_extends_life() {
        let mut ctx = context();
        let ttl = StateTtlConfig::new(100).update_on_read();
        let state: ValueState<u64> = open(&mut ctx).value_state(StateDescriptor::new("v").with_ttl(ttl));
        state.update(&mut ctx, 1);
        for now in [50, 100, 150, 200] {
            ctx.now.processing = now;
            assert_eq!(state.value(&mut ctx), Some(1), "read at {now} refreshes");
        }
        ctx.now.processing = 300;
        assert_eq!(state.value(&mut ctx), None);
    }

    #[test]
    fn ttl_on_event_time_for_lists_and_maps() {
        let mut ctx = context();
        let ttl = StateTtlConfig::new(10).event_time();
        let list: ListState<u64> = open(&mut ctx).list_state(StateDescriptor::new("l").with_ttl(ttl));
        let map: MapState<u64, u64> = open(&mut ctx).map_state(StateDescriptor::new("m").with_ttl(ttl));
        ctx.now.event = 100;
        list.add(&mut ctx, 1);
        map.put(&mut ctx, 1, 10);
        ctx.now.event = 105;
        list.add(&mut ctx, 2);
        map.put(&mut ctx, 2, 20);
        ctx.now.event = 110;
        assert_eq!(list.get(&mut ctx), vec![2], "each element expires on its own");
        assert_eq!(map.entries(&mut ctx), vec![(2, 20)]);
        assert!(!map.contains(&mut ctx, &1));
        ctx.now.event = 115;
        assert!(list.get(&mut ctx).is_empty());
        assert!(map.is_empty(&mut ctx));
        assert_eq!(ctx.store.key_counts(), vec![("l".to_string(), 0), ("m".to_string(), 0)]);
    }

    #[test]
    fn sweep_drops_expired_rows_of_other_keys() {
        let mut ctx = context();
        let state: ValueState<u64> =
            open(&mut ctx).value_state(StateDescriptor::new("v").with_ttl(StateTtlConfig::new(100)));
        for key in ["a", "b", "c"] {
            ctx.key = key.into();
            state.update(&mut ctx, 1);
        }
        ctx.store.sweep(TtlNow { event: 0, processing: 99 });
        assert_eq!(ctx.store.key_counts()[0].1, 3);
        // Sweeps run at most every ttl/4, so expired rows linger at most that long.
        ctx.store.sweep(TtlNow { event: 0, processing: 100 });
        assert_eq!(ctx.store.key_counts()[0].1, 3);
        ctx.store.sweep(TtlNow { event: 0, processing: 124 });
        assert_eq!(ctx.store.key_counts()[0].1, 0);
    }

    struct Average;
    impl AggregateFunction<u64> for Average {
        type Acc = (u64, u64);
        type Out = f64;
        fn create_accumulator(&self) -> (u64, u64) {
            (0, 0)
        }
        fn add(&self, accumulator: &mut (u64, u64), value: u64) {
            accumulator.0 += value;
            accumulator.1 += 1;
        }
        fn merge(&self, left: (u64, u64), right: (u64, u64)) -> (u64, u64) {
            (left.0 + right.0, left.1 + right.1)
        }
        fn get_result(&self, accumulator: &(u64, u64)) -> f64 {
            accumulator.0 as f64 / accumulator.1 as f64
        }
    }

    #[test]
    fn reducing_and_aggregating_state() {
        let mut ctx = context();
        let max: ReducingState<u64> = open(&mut ctx).reducing_state("max", |a: &u64, b: &u64| *a.max(b));
        let average = open(&mut ctx).aggregating_state("avg", Average);
        for value in [3, 9, 6] {
            max.add(&mut ctx, value);
            average.add(&mut ctx, value);
        }
        assert_eq!(max.get(&mut ctx), Some(9));
        assert_eq!(average.get(&mut ctx), Some(6.0));
        average.clear(&mut ctx);
        assert_eq!(average.get(&mut ctx), None);
    }
}
