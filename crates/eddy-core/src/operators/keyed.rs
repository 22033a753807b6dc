//! `key_by`, `KeyedStream`, keyed `process`, and rolling aggregations.
//!
//! Keys are routed by their fixed-seed 64-bit hash to the worker owning that hash range
//! (design.md section 5), identical in every process and every run.
//!
//! Rolling [`sum`](KeyedStream::sum) never wraps: an integer sum that overflows fails the job
//! with [`Error::OutOfRange`] naming the key (see [`Summable`]).

use std::num::Wrapping;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{describe, Error};
use crate::operators::process::{keyed_operator, Context, Key, KeyFn, KeyedProcessFunction, OneInput};
use crate::record::Data;
use crate::runtime::JobShared;
use crate::state::{OpenContext, ValueState};
use crate::stream::DataStream;

/// A stream partitioned by key: the input of keyed state, timers and windows.
pub struct KeyedStream<'scope, K, V> {
    pub(crate) stream: DataStream<'scope, V>,
    pub(crate) key: KeyFn<K, V>,
}

impl<K, V> Clone for KeyedStream<'_, K, V> {
    fn clone(&self) -> Self {
        KeyedStream { stream: self.stream.clone(), key: Rc::clone(&self.key) }
    }
}

impl<'scope, V: Data> DataStream<'scope, V> {
    /// Partitions the stream by `key`. The key function must be deterministic.
    pub fn key_by<K: Key>(self, key: impl Fn(&V) -> K + 'static) -> KeyedStream<'scope, K, V> {
        KeyedStream { stream: self, key: Rc::new(key) }
    }
}

impl<'scope, K: Key, V: Data> KeyedStream<'scope, K, V> {
    /// The key of a value.
    pub fn key_of(&self, value: &V) -> K {
        (self.key)(value)
    }

    /// The stream without its partitioning.
    pub fn into_stream(self) -> DataStream<'scope, V> {
        self.stream
    }

    /// Applies a keyed process function: state and timers scoped to each record's key.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl KeyedProcessFunction<K, V, O> + 'static,
    ) -> DataStream<'scope, O> {
        self.process_named("KeyedProcess", function)
    }

    /// `process` with an operator name (for logs and timely's introspection).
    pub(crate) fn process_named<O: Clone + 'static>(
        self,
        name: &str,
        function: impl KeyedProcessFunction<K, V, O> + 'static,
    ) -> DataStream<'scope, O> {
        let context = self.stream.context.clone();
        let stream = self.stream.into_timely();
        keyed_operator::<K, V, (), O>(context, name, (stream, self.key), None, OneInput(function))
    }

    /// Rolling reduce: combines each record with the key's previous result and emits the new
    /// result (carrying the record's event time).
    pub fn reduce(self, reduce: impl Fn(&V, &V) -> V + 'static) -> DataStream<'scope, V> {
        self.process(Rolling { state: None, reduce })
    }

    /// Rolling sum of `field` per key: emits `(key, sum so far)` for every record.
    ///
    /// A sum that does not fit its type fails the job with [`Error::OutOfRange`] naming the key
    /// and the values, rather than wrapping (Flink's `SUM` wraps silently); the overflowing sum
    /// is not emitted. See [`Summable`] for the types it adds and how.
    pub fn sum<N: Summable>(self, field: impl Fn(&V) -> N + 'static) -> DataStream<'scope, (K, N)> {
        let key = Rc::clone(&self.key);
        let shared = Arc::clone(&self.stream.context.runtime.shared);
        let keyed = self.stream.map(move |value| (key(&value), field(&value)));
        keyed.key_by(|(key, _): &(K, N)| key.clone()).process(RollingSum { state: None, shared })
    }

    /// Rolling minimum of `field` per key: emits `(key, minimum so far)` for every record.
    pub fn min<N: Data + PartialOrd>(self, field: impl Fn(&V) -> N + 'static) -> DataStream<'scope, (K, N)> {
        self.rolling_field(field, |low: &N, next: &N| if next < low { next.clone() } else { low.clone() })
    }

    /// Rolling maximum of `field` per key: emits `(key, maximum so far)` for every record.
    pub fn max<N: Data + PartialOrd>(self, field: impl Fn(&V) -> N + 'static) -> DataStream<'scope, (K, N)> {
        self.rolling_field(field, |high: &N, next: &N| if next > high { next.clone() } else { high.clone() })
    }

    /// Rolling arg-min: emits, for every record, the key's record with the smallest `field` so
    /// far (the earlier one on ties).
    pub fn min_by<N: PartialOrd>(self, field: impl Fn(&V) -> N + 'static) -> DataStream<'scope, V> {
        self.reduce(move |low, next| if field(next) < field(low) { next.clone() } else { low.clone() })
    }

    /// Rolling arg-max: emits, for every record, the key's record with the largest `field` so
    /// far (the earlier one on ties).
    pub fn max_by<N: PartialOrd>(self, field: impl Fn(&V) -> N + 'static) -> DataStream<'scope, V> {
        self.reduce(move |high, next| if field(next) > field(high) { next.clone() } else { high.clone() })
    }

    fn rolling_field<N: Data>(
        self,
        field: impl Fn(&V) -> N + 'static,
        combine: impl Fn(&N, &N) -> N + 'static,
    ) -> DataStream<'scope, (K, N)> {
        let key = Rc::clone(&self.key);
        let keyed = self.stream.map(move |value| (key(&value), field(&value)));
        keyed
            .key_by(|(key, _): &(K, N)| key.clone())
            .reduce(move |(key, left), (_, right)| (key.clone(), combine(left, right)))
    }
}

/// A number [`KeyedStream::sum`] adds up, without silent wrapping.
///
/// Integers add with `checked_add`: an overflow fails the job. Floats add as IEEE 754 says (an
/// overflow gives an infinity, which stays visible). [`Wrapping`] asks for wrapping
/// explicitly. Implement it for your own numbers with a checked addition.
pub trait Summable: Data {
    /// `self + other`, or `None` when the sum does not fit the type.
    fn checked_sum(&self, other: &Self) -> Option<Self>;
}

macro_rules! checked_sums {
    ($($number:ty),*) => {$(
        impl Summable for $number {
            #[inline]
            fn checked_sum(&self, other: &Self) -> Option<Self> {
                self.checked_add(*other)
            }
        }
    )*};
}

checked_sums!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, Duration);

macro_rules! float_sums {
    ($($number:ty),*) => {$(
        impl Summable for $number {
            #[inline]
            fn checked_sum(&self, other: &Self) -> Option<Self> {
                Some(self + other)
            }
        }
    )*};
}

float_sums!(f32, f64);

impl<N> Summable for Wrapping<N>
where
    Wrapping<N>: Data + Copy + std::ops::Add<Output = Wrapping<N>>,
{
    #[inline]
    fn checked_sum(&self, other: &Self) -> Option<Self> {
        Some(*self + *other)
    }
}

/// The keyed function behind `sum`: like `Rolling`, with the same state, but an overflow
/// fails the job.
struct RollingSum<K, N> {
    state: Option<ValueState<(K, N)>>,
    shared: Arc<JobShared>,
}

impl<K: Key, N: Summable> KeyedProcessFunction<K, (K, N), (K, N)> for RollingSum<K, N> {
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.state = Some(ctx.value_state("rolling"));
    }

    fn process_element(&mut self, (key, value): (K, N), ctx: &mut Context<'_, K, (K, N)>) {
        let state = self.state.as_ref().expect("open registers the state");
        let next = match state.value(ctx) {
            None => value,
            Some((_, sum)) => match sum.checked_sum(&value) {
                Some(next) => next,
                None => {
                    let reason = format!(
                        "{} + {} overflows {}",
                        describe(&sum),
                        describe(&value),
                        std::any::type_name::<N>()
                    );
                    let operator = "sum".to_owned();
                    self.shared.fail(Error::OutOfRange { operator, key: describe(&key), reason });
                    return;
                }
            },
        };
        state.update(ctx, (key.clone(), next.clone()));
        ctx.emit((key, next));
    }
}

/// The keyed function behind `reduce` and the rolling aggregations.
struct Rolling<V, F> {
    state: Option<ValueState<V>>,
    reduce: F,
}

impl<K: Key, V: crate::state::StateValue, F: Fn(&V, &V) -> V> KeyedProcessFunction<K, V, V>
    for Rolling<V, F>
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.state = Some(ctx.value_state("rolling"));
    }

    fn process_element(&mut self, value: V, ctx: &mut Context<'_, K, V>) {
        let state = self.state.as_ref().expect("open registers the state");
        let next = match state.value(ctx) {
            Some(previous) => (self.reduce)(&previous, &value),
            None => value,
        };
        state.update(ctx, next.clone());
        ctx.emit(next);
    }
}
