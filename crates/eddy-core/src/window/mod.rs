//! Windows on keyed streams (and all-windows on whole streams), with Flink's semantics:
//! assigners, triggers, evictors, allowed lateness and late-data side outputs.
//!
//! ```no_run
//! use eddy_core::prelude::*;
//! use eddy_core::window::*;
//! # fn build<'s>(clicks: DataStream<'s, (String, u64)>) {
//! const LATE: OutputTag<(String, u64)> = OutputTag::new("late");
//! let counts = clicks
//!     .key_by(|(user, _): &(String, u64)| user.clone())
//!     .window(TumblingEventTimeWindows::of(60_000))
//!     .allowed_lateness(5_000)
//!     .side_output_late_data(&LATE)
//!     .aggregate(CountAggregate);
//! counts.side_output(&LATE).print();
//! # }
//! # struct CountAggregate;
//! # impl AggregateFunction<(String, u64)> for CountAggregate {
//! #     type Acc = u64; type Out = u64;
//! #     fn create_accumulator(&self) -> u64 { 0 }
//! #     fn add(&self, acc: &mut u64, _: (String, u64)) { *acc += 1 }
//! #     fn merge(&self, a: u64, b: u64) -> u64 { a + b }
//! #     fn get_result(&self, acc: &u64) -> u64 { *acc }
//! # }
//! ```
//!
//! # Event time
//! A window `[start, end)` is complete when the watermark passes its *max timestamp*
//! `end - 1`; results carry that max timestamp as their event time (Flink's convention). An
//! event-time window is *late* once `max_timestamp + allowed_lateness` is below the watermark
//! (in Flink's terms, `<= W`): late windows take no more elements, and an element that lands
//! in no window and whose `timestamp + allowed_lateness` is below the watermark goes to the
//! late-data side output (or is dropped when none is set). Elements that arrive after the
//! window fired but within allowed lateness re-fire it with the updated contents.
//!
//! # State
//! Per key, the operator keeps each live window's contents (an accumulator for `reduce` and
//! `aggregate` without an evictor, otherwise the elements), its trigger state and its timers.
//! A window's state is removed when the watermark passes `max_timestamp + allowed_lateness`
//! (for processing-time windows, when the clock passes `max_timestamp`), so state stays
//! bounded. Global windows are never cleaned up, and neither are windows whose
//! `max_timestamp + allowed_lateness` reaches the end of event time (as in Flink).
//!
//! Event times are in [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE), `0..=i64::MAX`.
//! Windows end at most at [`MAX_WINDOW_END`]: a window that would end later is cut there and
//! fires when the input ends (see [`assigners`]). The operator fails the job with
//! [`Error::OutOfRange`](crate::error::Error::OutOfRange) on a record whose time is past the
//! range (only a user function emitting such a timestamp can produce one: sources reject them).

pub mod assigners;
pub mod evictors;
mod operator;
pub mod triggers;

use std::rc::Rc;

use serde::{Deserialize, Serialize};

pub use assigners::{
    EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SessionWindows,
    SlidingEventTimeWindows, SlidingProcessingTimeWindows, TumblingEventTimeWindows,
    TumblingProcessingTimeWindows, WindowAssigner,
};
pub use evictors::{CountEvictor, DeltaEvictor, Evictor, TimeEvictor};
pub use triggers::{
    ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountTrigger, EndOfStreamTrigger,
    EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, PurgingTrigger, Trigger, TriggerContext,
    TriggerResult, TriggerState,
};

use crate::operators::keyed::KeyedStream;
use crate::operators::process::Key;
use crate::record::Data;
use crate::side_output::OutputTag;
use crate::state::AggregateFunction;
use crate::stream::DataStream;
use operator::{AggregatePane, ListPane, PaneOps, ReducePane, WindowOperator};

/// A window `[start, end)` of event or processing time. The start is signed: windows aligned
/// to a size or slide may begin before time 0 (as in Flink), though eddy's times are unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start; negative for windows that begin before time 0.
    pub start: i64,
    /// Exclusive end.
    pub end: u64,
}

/// The max timestamp of the global window: the end of event time,
/// [`MAX_EVENT_TIME`](crate::record::MAX_EVENT_TIME) (Flink's `Long.MAX_VALUE`).
pub const GLOBAL_MAX_TIMESTAMP: u64 = crate::record::MAX_EVENT_TIME;

/// The latest end of a window, `MAX_EVENT_TIME + 1`: built-in assigners cut windows that
/// would end later here, so every window's max timestamp is a supported event time.
pub const MAX_WINDOW_END: u64 = GLOBAL_MAX_TIMESTAMP + 1;

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: i64, end: u64) -> Self {
        Window { start, end }
    }

    /// The single window of global windowing; it never ends.
    pub fn global() -> Self {
        Window { start: 0, end: MAX_WINDOW_END }
    }

    /// The largest timestamp in the window, `end - 1`: the event time of its results and the
    /// time at which event-time triggers fire.
    pub fn max_timestamp(&self) -> u64 {
        self.end.saturating_sub(1)
    }

    /// Whether two windows intersect or touch (Flink's inclusive `intersects`).
    pub fn intersects(&self, other: &Window) -> bool {
        i128::from(self.start) <= i128::from(other.end) && i128::from(self.end) >= i128::from(other.start)
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &Window) -> Window {
        Window { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A function over all elements of a window firing.
pub trait ProcessWindowFunction<K, I, O> {
    /// Called when `window` of `key` fires, with its elements in insertion order.
    fn process(&mut self, key: &K, window: &Window, elements: &[I], ctx: &mut WindowContext<'_, O>);
}

/// What a window function sees while a window fires.
pub struct WindowContext<'a, O> {
    pub(crate) window: Window,
    pub(crate) watermark: u64,
    pub(crate) processing_time: u64,
    pub(crate) out: &'a mut Vec<O>,
}

impl<O> WindowContext<'_, O> {
    /// Emits a result; its event time is the window's max timestamp.
    pub fn emit(&mut self, value: O) {
        self.out.push(value);
    }
    /// The window firing.
    pub fn window(&self) -> Window {
        self.window
    }
    /// The operator's watermark (frontier semantics).
    pub fn current_watermark(&self) -> u64 {
        self.watermark
    }
    /// The injected clock's time.
    pub fn current_processing_time(&self) -> u64 {
        self.processing_time
    }
}

/// A keyed stream with a window assigner, waiting for a window function.
pub struct WindowedStream<'scope, K, V> {
    keyed: KeyedStream<'scope, K, V>,
    assigner: Rc<dyn WindowAssigner<V>>,
    trigger: Option<Rc<dyn Trigger<V>>>,
    evictor: Option<Rc<dyn Evictor<V>>>,
    allowed_lateness: u64,
    late_tag: Option<OutputTag<V>>,
}

impl<'scope, K: Key, V: Data> KeyedStream<'scope, K, V> {
    /// Groups each key's elements into windows.
    pub fn window(self, assigner: impl WindowAssigner<V> + 'static) -> WindowedStream<'scope, K, V> {
        WindowedStream {
            keyed: self,
            assigner: Rc::new(assigner),
            trigger: None,
            evictor: None,
            allowed_lateness: 0,
            late_tag: None,
        }
    }

    /// Tumbling count windows: fires and purges every `size` elements of a key.
    pub fn count_window(self, size: u64) -> WindowedStream<'scope, K, V> {
        self.window(GlobalWindows::create()).trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }

    /// Sliding count windows: every `slide` elements, fires over the last `size` elements.
    pub fn count_window_sliding(self, size: u64, slide: u64) -> WindowedStream<'scope, K, V> {
        self.window(GlobalWindows::create()).trigger(CountTrigger::of(slide)).evictor(CountEvictor::of(size))
    }
}

impl<'scope, V: Data> DataStream<'scope, V> {
    /// Windows over the whole stream (all elements in one group, on one worker).
    pub fn window_all(self, assigner: impl WindowAssigner<V> + 'static) -> WindowedStream<'scope, (), V> {
        self.key_by(|_| ()).window(assigner)
    }

    /// Tumbling count windows over the whole stream.
    pub fn count_window_all(self, size: u64) -> WindowedStream<'scope, (), V> {
        self.key_by(|_| ()).count_window(size)
    }
}

impl<'scope, K: Key, V: Data> WindowedStream<'scope, K, V> {
    /// Replaces the assigner's default trigger.
    pub fn trigger(mut self, trigger: impl Trigger<V> + 'static) -> Self {
        self.trigger = Some(Rc::new(trigger));
        self
    }

    /// Adds an evictor; the window then keeps all its elements.
    pub fn evictor(mut self, evictor: impl Evictor<V> + 'static) -> Self {
        self.evictor = Some(Rc::new(evictor));
        self
    }

    /// Keeps event-time windows `lateness_ms` past their end: late elements within it update
    /// and re-fire the window.
    pub fn allowed_lateness(mut self, lateness_ms: u64) -> Self {
        self.allowed_lateness = lateness_ms;
        self
    }

    /// Sends elements too late for any window to the side output `tag`.
    pub fn side_output_late_data(mut self, tag: &OutputTag<V>) -> Self {
        self.late_tag = Some(*tag);
        self
    }

    fn build<O: Data>(self, name: &str, panes: impl PaneOps<K, V, O> + 'static) -> DataStream<'scope, O> {
        let trigger: Rc<dyn Trigger<V>> = match self.trigger {
            Some(trigger) => trigger,
            None => Rc::from(self.assigner.default_trigger()),
        };
        let shared = std::sync::Arc::clone(&self.keyed.stream.context.runtime.shared);
        let operator = WindowOperator::new(
            name,
            shared,
            self.assigner,
            trigger,
            self.allowed_lateness,
            self.late_tag,
            panes,
        );
        self.keyed.process_named(name, operator)
    }

    /// Combines each window's elements with `reduce`, incrementally (without an evictor).
    pub fn reduce(self, reduce: impl Fn(&V, &V) -> V + 'static) -> DataStream<'scope, V> {
        match self.evictor.clone() {
            None => self.build("WindowReduce", ReducePane { reduce }),
            Some(evictor) => self
                .build("WindowReduce", ListPane { evictor: Some(evictor), function: ReduceAll { reduce } }),
        }
    }

    /// Aggregates each window with `function`, incrementally (without an evictor).
    pub fn aggregate<A>(self, function: A) -> DataStream<'scope, A::Out>
    where
        A: AggregateFunction<V> + 'static,
        A::Out: Data,
    {
        self.aggregate_with_process(function, EmitResult)
    }

    /// Aggregates incrementally, then passes the result with the window's metadata to
    /// `process` (pre-aggregate, then enrich).
    pub fn aggregate_with_process<A, O: Data>(
        self,
        function: A,
        process: impl ProcessWindowFunction<K, A::Out, O> + 'static,
    ) -> DataStream<'scope, O>
    where
        A: AggregateFunction<V> + 'static,
    {
        match self.evictor.clone() {
            None => self.build("WindowAggregate", AggregatePane { function, process }),
            Some(evictor) => self.build(
                "WindowAggregate",
                ListPane { evictor: Some(evictor), function: AggregateAll { function, process } },
            ),
        }
    }

    /// Runs `function` over all elements of each window when it fires.
    pub fn process<O: Data>(
        self,
        function: impl ProcessWindowFunction<K, V, O> + 'static,
    ) -> DataStream<'scope, O> {
        let evictor = self.evictor.clone();
        self.build("WindowProcess", ListPane { evictor, function })
    }
}

/// Emits an aggregate's result as is.
struct EmitResult;

impl<K, O: Clone> ProcessWindowFunction<K, O, O> for EmitResult {
    fn process(&mut self, _key: &K, _window: &Window, elements: &[O], ctx: &mut WindowContext<'_, O>) {
        elements.iter().for_each(|element| ctx.emit(element.clone()));
    }
}

/// `reduce` over a window that keeps its elements (because of an evictor).
struct ReduceAll<F> {
    reduce: F,
}

impl<K, V: Clone, F: Fn(&V, &V) -> V> ProcessWindowFunction<K, V, V> for ReduceAll<F> {
    fn process(&mut self, _key: &K, _window: &Window, elements: &[V], ctx: &mut WindowContext<'_, V>) {
        let mut values = elements.iter();
        if let Some(first) = values.next() {
            let reduced = values.fold(first.clone(), |accumulated, next| (self.reduce)(&accumulated, next));
            ctx.emit(reduced);
        }
    }
}

/// `aggregate` over a window that keeps its elements (because of an evictor).
struct AggregateAll<A, P> {
    function: A,
    process: P,
}

impl<K, V: Clone, O, A: AggregateFunction<V>, P: ProcessWindowFunction<K, A::Out, O>>
    ProcessWindowFunction<K, V, O> for AggregateAll<A, P>
{
    fn process(&mut self, key: &K, window: &Window, elements: &[V], ctx: &mut WindowContext<'_, O>) {
        if elements.is_empty() {
            return;
        }
        let mut accumulator = self.function.create_accumulator();
        for element in elements {
            self.function.add(&mut accumulator, element.clone());
        }
        let result = self.function.get_result(&accumulator);
        self.process.process(key, window, std::slice::from_ref(&result), ctx);
    }
}
