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

use crate::hash::HashMap;

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
#[derive(Clone, Debug)]
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

impl<K: 'static, S: Expire + 'static> AnyTable<K> for Table<K, S> {
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
}

/// All keyed state of one operator instance.
pub struct StateStore<K> {
    tables: Vec<Box<dyn AnyTable<K>>>,
    names: Vec<String>,
}

impl<K: Hash + Eq + Clone + 'static> StateStore<K> {
    pub(crate) fn new() -> Self {
        StateStore { tables: Vec::new(), names: Vec::new() }
    }

    /// Registers a table and returns its index.
    pub(crate) fn register<S: Expire + 'static>(&mut self, descriptor: &StateDescriptor) -> usize {
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

    /// The names of the registered state and how many keys each holds.
    pub fn key_counts(&self) -> Vec<(String, usize)> {
        self.names.iter().cloned().zip(self.tables.iter().map(|table| table.key_count())).collect()
    }
}

/// Access to the state of the key being processed. Implemented by the contexts handed to
/// keyed functions; users pass their context to the state handles.
pub trait KeyedStateAccess {
    /// The key type.
    type Key: Hash + Eq + Clone + 'static;
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

impl<K: Hash + Eq + Clone + 'static> OpenContext<'_, K> {
    /// The index of the worker this function instance runs on.
    pub fn worker_index(&self) -> usize {
        self.worker_index
    }

    /// Registers a value state.
    pub fn value_state<T: Clone + 'static>(
        &mut self,
        descriptor: impl Into<StateDescriptor>,
    ) -> ValueState<T> {
        ValueState::register(self.store, &descriptor.into())
    }

    /// Registers a list state.
    pub fn list_state<T: Clone + 'static>(&mut self, descriptor: impl Into<StateDescriptor>) -> ListState<T> {
        ListState::register(self.store, &descriptor.into())
    }

    /// Registers a map state.
    pub fn map_state<UK, UV>(&mut self, descriptor: impl Into<StateDescriptor>) -> MapState<UK, UV>
    where
        UK: Hash + Eq + Clone + 'static,
        UV: Clone + 'static,
    {
        MapState::register(self.store, &descriptor.into())
    }

    /// Registers a reducing state that combines added values with `reduce`.
    pub fn reducing_state<T: Clone + 'static>(
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
