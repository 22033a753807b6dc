//! Typed handles to keyed state. Each method acts on the state of the key currently being
//! processed, given the callback's context.

use std::hash::Hash;
use std::marker::PhantomData;
use std::rc::Rc;

use super::{KeyedStateAccess, Stamped, StateDescriptor, StateStore, StateValue, TtlUpdate};
use crate::hash::HashMap;

fn stamp_now(ttl: Option<super::StateTtlConfig>, now: super::TtlNow) -> u64 {
    ttl.map_or(0, |ttl| ttl.now(now))
}

/// A single value per key.
pub struct ValueState<T> {
    index: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ValueState<T> {
    fn clone(&self) -> Self {
        ValueState { index: self.index, _type: PhantomData }
    }
}

impl<T: StateValue> ValueState<T> {
    pub(crate) fn register<K: Hash + Eq + Clone + Send + 'static>(
        store: &mut StateStore<K>,
        descriptor: &StateDescriptor,
    ) -> Self {
        ValueState { index: store.register::<Stamped<T>>(descriptor), _type: PhantomData }
    }

    /// The current key's value, if set and not expired.
    pub fn value<C: KeyedStateAccess>(&self, ctx: &mut C) -> Option<T> {
        let parts = ctx.state_parts();
        let table = parts.store.table::<Stamped<T>>(self.index);
        let row = table.rows.get_mut(parts.key)?;
        let Some(ttl) = table.ttl else { return Some(row.value.clone()) };
        if !ttl.expired(row.stamp, parts.now) {
            if ttl.update == TtlUpdate::OnReadAndWrite {
                row.stamp = ttl.now(parts.now);
            }
            return Some(row.value.clone());
        }
        table.rows.remove(parts.key);
        None
    }

    /// Sets the current key's value.
    pub fn update<C: KeyedStateAccess>(&self, ctx: &mut C, value: T) {
        let parts = ctx.state_parts();
        let table = parts.store.table::<Stamped<T>>(self.index);
        let stamp = stamp_now(table.ttl, parts.now);
        table.rows.insert(parts.key.clone(), Stamped { value, stamp });
    }

    /// Removes the current key's value.
    pub fn clear<C: KeyedStateAccess>(&self, ctx: &mut C) {
        let parts = ctx.state_parts();
        parts.store.table::<Stamped<T>>(self.index).rows.remove(parts.key);
    }

    /// Removes and returns the current key's value (if set and not expired), without cloning
    /// it: for large values that are updated in place and put back with `update`.
    pub fn take<C: KeyedStateAccess>(&self, ctx: &mut C) -> Option<T> {
        let parts = ctx.state_parts();
        let table = parts.store.table::<Stamped<T>>(self.index);
        let row = table.rows.remove(parts.key)?;
        match table.ttl {
            Some(ttl) if ttl.expired(row.stamp, parts.now) => None,
            _ => Some(row.value),
        }
    }
}

/// A value per key that added values are folded into with a reduce function.
pub struct ReducingState<T> {
    inner: ValueState<T>,
    reduce: Rc<dyn Fn(&T, &T) -> T>,
}

impl<T> Clone for ReducingState<T> {
    fn clone(&self) -> Self {
        ReducingState { inner: self.inner.clone(), reduce: Rc::clone(&self.reduce) }
    }
}

impl<T: StateValue> ReducingState<T> {
    pub(crate) fn register<K: Hash + Eq + Clone + Send + 'static>(
        store: &mut StateStore<K>,
        descriptor: &StateDescriptor,
        reduce: impl Fn(&T, &T) -> T + 'static,
    ) -> Self {
        ReducingState { inner: ValueState::register(store, descriptor), reduce: Rc::new(reduce) }
    }

    /// Folds `value` into the current key's state.
    pub fn add<C: KeyedStateAccess>(&self, ctx: &mut C, value: T) {
        let next = match self.inner.value(ctx) {
            Some(current) => (self.reduce)(&current, &value),
            None => value,
        };
        self.inner.update(ctx, next);
    }

    /// The current key's reduced value.
    pub fn get<C: KeyedStateAccess>(&self, ctx: &mut C) -> Option<T> {
        self.inner.value(ctx)
    }

    /// Removes the current key's value.
    pub fn clear<C: KeyedStateAccess>(&self, ctx: &mut C) {
        self.inner.clear(ctx)
    }
}

/// An incremental aggregation: values are added to an accumulator, accumulators can be merged
/// (for merging windows), and a result is read from the accumulator.
pub trait AggregateFunction<In> {
    /// The accumulator.
    type Acc: StateValue;
    /// The result.
    type Out;
    /// A fresh, empty accumulator.
    fn create_accumulator(&self) -> Self::Acc;
    /// Adds a value to an accumulator.
    fn add(&self, accumulator: &mut Self::Acc, value: In);
    /// Merges two accumulators.
    fn merge(&self, left: Self::Acc, right: Self::Acc) -> Self::Acc;
    /// The result of an accumulator.
    fn get_result(&self, accumulator: &Self::Acc) -> Self::Out;
}

/// An accumulator per key, driven by an [`AggregateFunction`].
pub struct AggregatingState<In, A: AggregateFunction<In>> {
    inner: ValueState<A::Acc>,
    function: Rc<A>,
    _input: PhantomData<fn(In)>,
}

impl<In, A: AggregateFunction<In>> Clone for AggregatingState<In, A> {
    fn clone(&self) -> Self {
        AggregatingState {
            inner: self.inner.clone(),
            function: Rc::clone(&self.function),
            _input: PhantomData,
        }
    }
}

impl<In, A: AggregateFunction<In> + 'static> AggregatingState<In, A> {
    pub(crate) fn register<K: Hash + Eq + Clone + Send + 'static>(
        store: &mut StateStore<K>,
        descriptor: &StateDescriptor,
        function: A,
    ) -> Self {
        AggregatingState {
            inner: ValueState::register(store, descriptor),
            function: Rc::new(function),
            _input: PhantomData,
        }
    }

    /// Adds a value to the current key's accumulator.
    pub fn add<C: KeyedStateAccess>(&self, ctx: &mut C, value: In) {
        let mut accumulator = self.inner.value(ctx).unwrap_or_else(|| self.function.create_accumulator());
        self.function.add(&mut accumulator, value);
        self.inner.update(ctx, accumulator);
    }

    /// The current key's result, if any value was added (and has not expired).
    pub fn get<C: KeyedStateAccess>(&self, ctx: &mut C) -> Option<A::Out> {
        self.inner.value(ctx).map(|accumulator| self.function.get_result(&accumulator))
    }

    /// Removes the current key's accumulator.
    pub fn clear<C: KeyedStateAccess>(&self, ctx: &mut C) {
        self.inner.clear(ctx)
    }
}

/// A list of values per key. With time-to-live, each element expires on its own.
pub struct ListState<T> {
    index: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ListState<T> {
    fn clone(&self) -> Self {
        ListState { index: self.index, _type: PhantomData }
    }
}

impl<T: StateValue> ListState<T> {
    pub(crate) fn register<K: Hash + Eq + Clone + Send + 'static>(
        store: &mut StateStore<K>,
        descriptor: &StateDescriptor,
    ) -> Self {
        ListState { index: store.register::<Vec<Stamped<T>>>(descriptor), _type: PhantomData }
    }

    /// The current key's live elements, in insertion order.
    pub fn get<C: KeyedStateAccess>(&self, ctx: &mut C) -> Vec<T> {
        let parts = ctx.state_parts();
        let table = parts.store.table::<Vec<Stamped<T>>>(self.index);
        let Some(list) = table.rows.get_mut(parts.key) else { return Vec::new() };
        if let Some(ttl) = table.ttl {
            list.retain(|element| !ttl.expired(element.stamp, parts.now));
            if ttl.update == TtlUpdate::OnReadAndWrite {
                let now = ttl.now(parts.now);
                list.iter_mut().for_each(|element| element.stamp = now);
            }
        }
        let values: Vec<T> = list.iter().map(|element| element.value.clone()).collect();
        if list.is_empty() {
            table.rows.remove(parts.key);
        }
        values
    }

    /// Appends a value to the current key's list.
    pub fn add<C: KeyedStateAccess>(&self, ctx: &mut C, value: T) {
        self.add_all(ctx, std::iter::once(value))
    }

    /// Appends values to the current key's list.
    pub fn add_all<C: KeyedStateAccess>(&self, ctx: &mut C, values: impl IntoIterator<Item = T>) {
        let parts = ctx.state_parts();
        let table = parts.store.table::<Vec<Stamped<T>>>(self.index);
        let stamp = stamp_now(table.ttl, parts.now);
        let list = table.rows.entry(parts.key.clone()).or_default();
        list.extend(values.into_iter().map(|value| Stamped { value, stamp }));
        if list.is_empty() {
            table.rows.remove(parts.key);
        }
    }

    /// Replaces the current key's list.
    pub fn update<C: KeyedStateAccess>(&self, ctx: &mut C, values: Vec<T>) {
        self.clear(ctx);
        self.add_all(ctx, values);
    }

    /// Removes the current key's list.
    pub fn clear<C: KeyedStateAccess>(&self, ctx: &mut C) {
        let parts = ctx.state_parts();
        parts.store.table::<Vec<Stamped<T>>>(self.index).rows.remove(parts.key);
    }
}

/// A map per key. With time-to-live, each entry expires on its own.
pub struct MapState<UK, UV> {
    index: usize,
    _type: PhantomData<fn() -> (UK, UV)>,
}

impl<UK, UV> Clone for MapState<UK, UV> {
    fn clone(&self) -> Self {
        MapState { index: self.index, _type: PhantomData }
    }
}

type MapRow<UK, UV> = HashMap<UK, Stamped<UV>>;

impl<UK: Hash + Eq + StateValue, UV: StateValue> MapState<UK, UV> {
    pub(crate) fn register<K: Hash + Eq + Clone + Send + 'static>(
        store: &mut StateStore<K>,
        descriptor: &StateDescriptor,
    ) -> Self {
        MapState { index: store.register::<MapRow<UK, UV>>(descriptor), _type: PhantomData }
    }

    /// Runs `action` on the current key's live map (expired entries removed, reads refreshed
    /// when configured) and drops the map when it ends up empty.
    fn with_row<C: KeyedStateAccess, R>(
        &self,
        ctx: &mut C,
        refresh: bool,
        action: impl FnOnce(&mut MapRow<UK, UV>, u64) -> R,
    ) -> R {
        let parts = ctx.state_parts();
        let table = parts.store.table::<MapRow<UK, UV>>(self.index);
        let stamp = stamp_now(table.ttl, parts.now);
        let row = table.rows.entry(parts.key.clone()).or_default();
        if let Some(ttl) = table.ttl {
            row.retain(|_, entry| !ttl.expired(entry.stamp, parts.now));
            if refresh && ttl.update == TtlUpdate::OnReadAndWrite {
                row.values_mut().for_each(|entry| entry.stamp = stamp);
            }
        }
        let result = action(row, stamp);
        if row.is_empty() {
            table.rows.remove(parts.key);
        }
        result
    }

    /// The value under `user_key` for the current key.
    pub fn get<C: KeyedStateAccess>(&self, ctx: &mut C, user_key: &UK) -> Option<UV> {
        self.with_row(ctx, true, |row, _| row.get(user_key).map(|entry| entry.value.clone()))
    }

    /// Whether the current key's map holds `user_key`.
    pub fn contains<C: KeyedStateAccess>(&self, ctx: &mut C, user_key: &UK) -> bool {
        self.with_row(ctx, false, |row, _| row.contains_key(user_key))
    }

    /// Sets `user_key` to `value` for the current key.
    pub fn put<C: KeyedStateAccess>(&self, ctx: &mut C, user_key: UK, value: UV) {
        self.with_row(ctx, false, |row, stamp| {
            row.insert(user_key, Stamped { value, stamp });
        })
    }

    /// Removes `user_key` from the current key's map, returning its value.
    pub fn remove<C: KeyedStateAccess>(&self, ctx: &mut C, user_key: &UK) -> Option<UV> {
        self.with_row(ctx, false, |row, _| row.remove(user_key).map(|entry| entry.value))
    }

    /// All live entries of the current key's map.
    pub fn entries<C: KeyedStateAccess>(&self, ctx: &mut C) -> Vec<(UK, UV)> {
        self.with_row(ctx, true, |row, _| {
            row.iter().map(|(user_key, entry)| (user_key.clone(), entry.value.clone())).collect()
        })
    }

    /// Whether the current key's map is empty.
    pub fn is_empty<C: KeyedStateAccess>(&self, ctx: &mut C) -> bool {
        self.with_row(ctx, false, |row, _| row.is_empty())
    }

    /// Removes the current key's map.
    pub fn clear<C: KeyedStateAccess>(&self, ctx: &mut C) {
        let parts = ctx.state_parts();
        parts.store.table::<MapRow<UK, UV>>(self.index).rows.remove(parts.key);
    }
}
