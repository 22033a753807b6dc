//! Deduplication per key (Flink SQL's `ROW_NUMBER() ... = 1` deduplication, Nexmark q18),
//! distinct counting ([`CountDistinct`]) and non-windowed keyed aggregation as an upsert
//! changelog.
//!
//! # Event time
//! Rows are applied in eddy's deterministic order (logical time, then event time, then origin
//! tag; see `docs/architecture.md`). "First" means first in that order; "last" means the row
//! with the largest event time, the later-applied one on equal event times. Outputs carry the
//! event time of the row that caused them.
//!
//! # State
//! Deduplication keeps one value per key (a marker for keep-first, the last row and its event
//! time for keep-last). With a [`StateTtlConfig`] that value expires `ttl_ms` after its last
//! write (on the configured clock), so state stays bounded; a key whose state has expired is
//! new again. `aggregate` keeps one accumulator per key and never expires it.

use std::hash::Hash;
use std::marker::PhantomData;

use crate::changelog::Change;
use crate::hash::HashSet;
use crate::operators::keyed::KeyedStream;
use crate::operators::process::{Context, Key, KeyedProcessFunction};
use crate::record::Data;
use crate::state::{AggregateFunction, OpenContext, StateDescriptor, StateTtlConfig, StateValue, ValueState};
use crate::stream::DataStream;

impl<'scope, K: Key, V: Data> KeyedStream<'scope, K, V> {
    /// Keep-first deduplication: emits the first row of each key once and drops the rest
    /// (append-only output; Flink's `ORDER BY proctime ASC ... = 1`). "First" is first in
    /// eddy's deterministic application order, not necessarily the smallest event time.
    ///
    /// With `ttl`, a key is forgotten `ttl_ms` after its first row (on the TTL's clock; use
    /// [`StateTtlConfig::event_time`] for deterministic results), and its next row is emitted
    /// again.
    pub fn deduplicate_first(self, ttl: Option<StateTtlConfig>) -> DataStream<'scope, V> {
        self.process_named("DeduplicateFirst", KeepFirst { ttl, seen: None })
    }

    /// Keep-last deduplication: the latest row per key as an upsert changelog (Flink's
    /// `ORDER BY rowtime DESC ... = 1`, Nexmark q18). A row replaces the key's current one when
    /// its event time is at least the current row's (on equal event times the later-applied
    /// row wins) and is then emitted as `Change::Upsert(key, row)`; older rows are dropped.
    /// Never emits `Change::Delete`.
    ///
    /// With `ttl`, the key's row expires `ttl_ms` after it was last replaced, and the next
    /// row of the key is emitted whatever its event time.
    pub fn deduplicate_last(self, ttl: Option<StateTtlConfig>) -> DataStream<'scope, Change<K, V>> {
        self.process_named("DeduplicateLast", KeepLast { ttl, last: None })
    }

    /// Non-windowed aggregation per key, as an upsert changelog: every row is added to its
    /// key's accumulator, and `Change::Upsert(key, result)` is emitted whenever the key's
    /// result changes (always for a key's first row; like Flink's group aggregation, a row
    /// that leaves the result unchanged emits nothing). Never emits `Change::Delete`.
    ///
    /// Unlike the rolling [`reduce`](Self::reduce) and [`sum`](Self::sum), which emit a plain
    /// value per row, the output says which key it updates and can be consolidated.
    pub fn aggregate<A>(self, function: A) -> DataStream<'scope, Change<K, A::Out>>
    where
        A: AggregateFunction<V> + 'static,
        A::Out: Data + PartialEq,
    {
        self.process_named("KeyedAggregate", KeyedAggregate { function, accumulator: None })
    }
}

fn descriptor(name: &str, ttl: Option<StateTtlConfig>) -> StateDescriptor {
    let descriptor = StateDescriptor::new(name);
    match ttl {
        Some(ttl) => descriptor.with_ttl(ttl),
        None => descriptor,
    }
}

/// The keyed function behind `deduplicate_first`.
struct KeepFirst {
    ttl: Option<StateTtlConfig>,
    seen: Option<ValueState<bool>>,
}

impl<K: Key, V> KeyedProcessFunction<K, V, V> for KeepFirst {
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.seen = Some(ctx.value_state(descriptor("first-seen", self.ttl)));
    }

    fn process_element(&mut self, value: V, ctx: &mut Context<'_, K, V>) {
        let seen = self.seen.as_ref().expect("open registers the state");
        if seen.value(ctx).is_none() {
            seen.update(ctx, true);
            ctx.emit(value);
        }
    }
}

/// The keyed function behind `deduplicate_last`: the row with its event time.
struct KeepLast<V> {
    ttl: Option<StateTtlConfig>,
    last: Option<ValueState<(u64, V)>>,
}

impl<K: Key, V: StateValue> KeyedProcessFunction<K, V, Change<K, V>> for KeepLast<V> {
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.last = Some(ctx.value_state(descriptor("last-row", self.ttl)));
    }

    fn process_element(&mut self, value: V, ctx: &mut Context<'_, K, Change<K, V>>) {
        let last = self.last.as_ref().expect("open registers the state");
        let timestamp = ctx.timestamp();
        // A read, not a take: dropping an older row must not count as a write for the TTL.
        if last.value(ctx).is_some_and(|(current, _)| current > timestamp) {
            return;
        }
        let key = ctx.key().clone();
        ctx.emit(Change::Upsert(key, value.clone()));
        last.update(ctx, (timestamp, value));
    }
}

/// The keyed function behind `KeyedStream::aggregate`.
struct KeyedAggregate<V, A: AggregateFunction<V>> {
    function: A,
    accumulator: Option<ValueState<A::Acc>>,
}

impl<K: Key, V, A> KeyedProcessFunction<K, V, Change<K, A::Out>> for KeyedAggregate<V, A>
where
    A: AggregateFunction<V>,
    A::Out: PartialEq,
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.accumulator = Some(ctx.value_state("aggregate"));
    }

    fn process_element(&mut self, value: V, ctx: &mut Context<'_, K, Change<K, A::Out>>) {
        let state = self.accumulator.as_ref().expect("open registers the state");
        let (mut accumulator, before) = match state.take(ctx) {
            Some(accumulator) => {
                let before = self.function.get_result(&accumulator);
                (accumulator, Some(before))
            }
            None => (self.function.create_accumulator(), None),
        };
        self.function.add(&mut accumulator, value);
        let after = self.function.get_result(&accumulator);
        state.update(ctx, accumulator);
        if before.as_ref() != Some(&after) {
            let key = ctx.key().clone();
            ctx.emit(Change::Upsert(key, after));
        }
    }
}

/// Counts distinct values (`COUNT(DISTINCT x)`): an [`AggregateFunction`] for windows
/// (`WindowedStream::aggregate`), keyed aggregation ([`KeyedStream::aggregate`]) and
/// aggregating state. The accumulator is the set of values seen (serializable, so it is
/// checkpointed), so memory grows with the number of distinct values; merging unions the sets.
/// To count distinct values of one field, map the stream first or use [`CountDistinctBy`].
pub struct CountDistinct<T> {
    _type: PhantomData<fn(T)>,
}

impl<T> CountDistinct<T> {
    /// Counts distinct values of type `T`.
    pub fn new() -> Self {
        CountDistinct { _type: PhantomData }
    }
}

impl<T> Default for CountDistinct<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for CountDistinct<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq + StateValue> AggregateFunction<T> for CountDistinct<T> {
    type Acc = HashSet<T>;
    type Out = u64;

    fn create_accumulator(&self) -> HashSet<T> {
        HashSet::default()
    }

    fn add(&self, accumulator: &mut HashSet<T>, value: T) {
        accumulator.insert(value);
    }

    fn merge(&self, mut left: HashSet<T>, right: HashSet<T>) -> HashSet<T> {
        left.extend(right);
        left
    }

    fn get_result(&self, accumulator: &HashSet<T>) -> u64 {
        accumulator.len() as u64
    }
}

/// Counts distinct values of a field of the input (`COUNT(DISTINCT field(row))`), like
/// [`CountDistinct`] over `field`'s values.
pub struct CountDistinctBy<T, F> {
    field: F,
    _type: PhantomData<fn() -> T>,
}

impl<T, F> CountDistinctBy<T, F> {
    /// Counts distinct values of `field`.
    pub fn new(field: F) -> Self {
        CountDistinctBy { field, _type: PhantomData }
    }
}

impl<In, T: Hash + Eq + StateValue, F: Fn(&In) -> T> AggregateFunction<In> for CountDistinctBy<T, F> {
    type Acc = HashSet<T>;
    type Out = u64;

    fn create_accumulator(&self) -> HashSet<T> {
        HashSet::default()
    }

    fn add(&self, accumulator: &mut HashSet<T>, value: In) {
        accumulator.insert((self.field)(&value));
    }

    fn merge(&self, mut left: HashSet<T>, right: HashSet<T>) -> HashSet<T> {
        left.extend(right);
        left
    }

    fn get_result(&self, accumulator: &HashSet<T>) -> u64 {
        accumulator.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_distinct_adds_and_merges() {
        let function = CountDistinct::<u32>::new();
        let mut left = function.create_accumulator();
        for value in [1, 2, 2, 3, 1] {
            function.add(&mut left, value);
        }
        assert_eq!(function.get_result(&left), 3);
        let mut right = function.create_accumulator();
        for value in [3, 4] {
            function.add(&mut right, value);
        }
        let merged = function.merge(left, right);
        assert_eq!(function.get_result(&merged), 4);
        let packed = rmp_serde::to_vec_named(&merged).expect("the accumulator serializes");
        let back: HashSet<u32> = rmp_serde::from_slice(&packed).expect("and deserializes");
        assert_eq!(back, merged);
    }

    #[test]
    fn count_distinct_by_a_field() {
        let function = CountDistinctBy::new(|row: &(u32, &str)| row.0 % 2);
        let mut accumulator = function.create_accumulator();
        for row in [(1, "a"), (3, "b"), (4, "c")] {
            function.add(&mut accumulator, row);
        }
        assert_eq!(function.get_result(&accumulator), 2);
    }
}
