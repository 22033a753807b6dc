//! Joins of two streams on a key: the interval join, the window join and the regular
//! (unbounded) join, all on the keyed co-process engine.
//!
//! * [`KeyedStream::interval_join`] (Flink's `KeyedStream.intervalJoin(..).between(..)`): pairs
//!   whose right timestamp lies in `[left.ts + lower, left.ts + upper]`.
//! * [`DataStream::join`]`.where_key(..).equal_to(..).window(..)` (Flink's
//!   `DataStream.join(..).where(..).equalTo(..).window(..)`): pairs of the same key in the same
//!   event-time window, emitted when the window ends.
//! * [`DataStream::join`]`.where_key(..).equal_to(..).apply(..)` without a window: the regular
//!   inner join of SQL (Flink's table `JOIN ... ON`), every matching pair as soon as both sides
//!   have been seen, with optional state time-to-live.
//!
//! ```no_run
//! use eddy_core::prelude::*;
//! # fn build<'s>(bids: DataStream<'s, (u64, u64)>, auctions: DataStream<'s, (u64, String)>) {
//! // (auction, price) joined with (auction, name), per 10 s window.
//! let windowed = bids
//!     .clone()
//!     .join(auctions.clone())
//!     .where_key(|bid: &(u64, u64)| bid.0)
//!     .equal_to(|auction: &(u64, String)| auction.0)
//!     .window(TumblingEventTimeWindows::of(10_000))
//!     .apply(|bid, auction| (auction.1.clone(), bid.1));
//! // The same pairs without windows, keeping each side for one hour of event time.
//! let regular = bids
//!     .join(auctions)
//!     .where_key(|bid: &(u64, u64)| bid.0)
//!     .equal_to(|auction: &(u64, String)| auction.0)
//!     .state_ttl(StateTtlConfig::new(3_600_000).event_time())
//!     .apply(|bid, auction| (auction.1.clone(), bid.1));
//! # let _ = (windowed, regular);
//! # }
//! ```
//!
//! # Event time
//! Interval-join results carry `max(left.ts, right.ts)`, window-join results the window's max
//! timestamp `end - 1`, regular-join results `max(left.ts, right.ts)`. The interval and window
//! joins drop late records (event time below the operator's watermark, eddy's frontier
//! semantics); the regular join has no notion of lateness and joins every record.
//!
//! # State
//! Each side is buffered in keyed state. The interval join drops a buffered element with an
//! event-time timer once the watermark has passed the last time a matching record of the other
//! side could have (Flink's cleanup rule); the window join drops an element once its last
//! window has fired; the regular join keeps everything unless given a [`StateTtlConfig`].

use std::rc::Rc;

use crate::operators::keyed::KeyedStream;
use crate::operators::process::{keyed_operator, Context, Key, KeyFn, KeyedCoProcessFunction, TwoInputs};
use crate::record::Data;
use crate::side_output::OutputTag;
use crate::state::{
    ListState, MapState, OpenContext, StateDescriptor, StateTtlConfig, StateValue, ValueState,
};
use crate::stream::DataStream;
use crate::window::{Window, WindowAssigner};

/// A function called for every joined pair; it may emit any number of results.
///
/// ```
/// use eddy_core::prelude::*;
///
/// /// Emits the price difference of two bids on the same item, if positive.
/// struct Outbid;
///
/// impl ProcessJoinFunction<u64, u64, u64> for Outbid {
///     fn process_element(&mut self, first: &u64, second: &u64, ctx: &mut JoinContext<'_, u64>) {
///         if second > first {
///             ctx.emit(second - first);
///         }
///     }
/// }
/// ```
pub trait ProcessJoinFunction<A, B, O> {
    /// Called for one pair of a left and a right element.
    fn process_element(&mut self, left: &A, right: &B, ctx: &mut JoinContext<'_, O>);
}

/// What a join function sees of one joined pair.
pub struct JoinContext<'a, O> {
    left_timestamp: u64,
    right_timestamp: u64,
    timestamp: u64,
    window: Option<Window>,
    out: &'a mut Vec<(O, u64)>,
}

impl<O> JoinContext<'_, O> {
    /// The event time of the left element.
    pub fn left_timestamp(&self) -> u64 {
        self.left_timestamp
    }

    /// The event time of the right element.
    pub fn right_timestamp(&self) -> u64 {
        self.right_timestamp
    }

    /// The event time results are emitted with: `max(left, right)` for the interval and the
    /// regular join, the window's max timestamp for the window join.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The window of a window join; `None` for the other joins.
    pub fn window(&self) -> Option<Window> {
        self.window
    }

    /// Emits a result carrying [`timestamp`](Self::timestamp).
    pub fn emit(&mut self, value: O) {
        self.out.push((value, self.timestamp));
    }
}

/// A plain function of a pair as a [`ProcessJoinFunction`] emitting exactly one result.
struct JoinFn<F>(F);

impl<A, B, O, F: FnMut(&A, &B) -> O> ProcessJoinFunction<A, B, O> for JoinFn<F> {
    fn process_element(&mut self, left: &A, right: &B, ctx: &mut JoinContext<'_, O>) {
        let result = (self.0)(left, right);
        ctx.emit(result);
    }
}

/// Calls `function` on a pair, collecting its results in `out`.
fn call_join<A, B, O>(
    function: &mut impl ProcessJoinFunction<A, B, O>,
    out: &mut Vec<(O, u64)>,
    (left_timestamp, left): (u64, &A),
    (right_timestamp, right): (u64, &B),
    timestamp: u64,
    window: Option<Window>,
) {
    let mut context = JoinContext { left_timestamp, right_timestamp, timestamp, window, out };
    function.process_element(left, right, &mut context);
}

/// Emits the collected results through the engine's context.
fn flush<K: Key, O>(out: &mut Vec<(O, u64)>, ctx: &mut Context<'_, K, O>) {
    for (value, timestamp) in out.drain(..) {
        ctx.emit_with_timestamp(value, timestamp);
    }
}

/// Clamps an `i128` time to `u64`.
fn clamp_time(time: i128) -> u64 {
    time.clamp(0, i128::from(u64::MAX)) as u64
}

// ------------------------------------------------------------------------------------------
// Interval join
// ------------------------------------------------------------------------------------------

/// Two keyed streams to be joined on time intervals; see [`KeyedStream::interval_join`].
pub struct IntervalJoin<'scope, K, A, B> {
    left: KeyedStream<'scope, K, A>,
    right: KeyedStream<'scope, K, B>,
}

/// An interval join with its bounds, waiting for a join function.
pub struct IntervalJoined<'scope, K, A, B> {
    left: KeyedStream<'scope, K, A>,
    right: KeyedStream<'scope, K, B>,
    lower: i64,
    upper: i64,
    lower_exclusive: bool,
    upper_exclusive: bool,
    left_late: Option<OutputTag<A>>,
    right_late: Option<OutputTag<B>>,
}

impl<'scope, K: Key, A: Data> KeyedStream<'scope, K, A> {
    /// Joins this stream with `other` (keyed by the same key type) on time intervals: every
    /// pair of equal keys with `right.ts` in `[left.ts + lower, left.ts + upper]`, with the
    /// bounds set by [`IntervalJoin::between`]. Flink's `intervalJoin`.
    ///
    /// ```no_run
    /// use eddy_core::prelude::*;
    /// # fn build<'s>(orders: DataStream<'s, (u32, u64)>, shipments: DataStream<'s, (u32, u64)>) {
    /// // Shipments from 1 s before to 1 h after their order.
    /// let shipped = orders
    ///     .key_by(|order: &(u32, u64)| order.0)
    ///     .interval_join(shipments.key_by(|shipment: &(u32, u64)| shipment.0))
    ///     .between(-1_000, 3_600_000)
    ///     .apply(|order, shipment| (order.0, shipment.1));
    /// # let _ = shipped;
    /// # }
    /// ```
    pub fn interval_join<B: Data>(self, other: KeyedStream<'scope, K, B>) -> IntervalJoin<'scope, K, A, B> {
        IntervalJoin { left: self, right: other }
    }
}

impl<'scope, K: Key, A: Data, B: Data> IntervalJoin<'scope, K, A, B> {
    /// Joins right elements with `right.ts - left.ts` in `[lower_ms, upper_ms]` (inclusive;
    /// offsets may be negative).
    ///
    /// # Panics
    /// If `lower_ms > upper_ms`.
    pub fn between(self, lower_ms: i64, upper_ms: i64) -> IntervalJoined<'scope, K, A, B> {
        assert!(lower_ms <= upper_ms, "interval join: lower bound {lower_ms} above upper bound {upper_ms}");
        IntervalJoined {
            left: self.left,
            right: self.right,
            lower: lower_ms,
            upper: upper_ms,
            lower_exclusive: false,
            upper_exclusive: false,
            left_late: None,
            right_late: None,
        }
    }
}

impl<'scope, K: Key, A: Data, B: Data> IntervalJoined<'scope, K, A, B> {
    /// Excludes the lower bound: `right.ts - left.ts > lower`.
    pub fn lower_bound_exclusive(mut self) -> Self {
        self.lower_exclusive = true;
        self
    }

    /// Excludes the upper bound: `right.ts - left.ts < upper`.
    pub fn upper_bound_exclusive(mut self) -> Self {
        self.upper_exclusive = true;
        self
    }

    /// Sends late left elements (event time below the watermark) to the side output `tag`
    /// instead of dropping them.
    pub fn side_output_left_late_data(mut self, tag: &OutputTag<A>) -> Self {
        self.left_late = Some(*tag);
        self
    }

    /// Sends late right elements to the side output `tag` instead of dropping them.
    pub fn side_output_right_late_data(mut self, tag: &OutputTag<B>) -> Self {
        self.right_late = Some(*tag);
        self
    }

    /// Calls `function` for every joined pair.
    ///
    /// # Panics
    /// If the exclusive bounds leave an empty interval.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl ProcessJoinFunction<A, B, O> + 'static,
    ) -> DataStream<'scope, O> {
        let lower = i128::from(self.lower) + i128::from(self.lower_exclusive);
        let upper = i128::from(self.upper) - i128::from(self.upper_exclusive);
        assert!(lower <= upper, "interval join: the exclusive bounds leave an empty interval");
        let operator = IntervalJoinOperator {
            lower,
            upper,
            left_late: self.left_late,
            right_late: self.right_late,
            function,
            left: None,
            right: None,
            out: Vec::new(),
        };
        let context = self.left.stream.context.clone();
        let left = self.left.stream.into_timely();
        let right = self.right.stream.into_timely();
        keyed_operator(
            context,
            "IntervalJoin",
            (left, self.left.key),
            Some((right, self.right.key)),
            TwoInputs(operator),
        )
    }

    /// Emits `function(left, right)` for every joined pair.
    pub fn apply<O: Clone + 'static>(
        self,
        function: impl FnMut(&A, &B) -> O + 'static,
    ) -> DataStream<'scope, O> {
        self.process(JoinFn(function))
    }
}

/// One side of an interval join: elements by timestamp, and the sorted buffered timestamps.
struct TimeBuffer<T> {
    elements: MapState<u64, Vec<T>>,
    timestamps: ValueState<Vec<u64>>,
}

impl<T: StateValue> TimeBuffer<T> {
    fn open<K: Key>(ctx: &mut OpenContext<'_, K>, side: &str) -> Self {
        TimeBuffer {
            elements: ctx.map_state(format!("{side}-buffer")),
            timestamps: ctx.value_state(format!("{side}-timestamps")),
        }
    }

    fn add<K: Key, O>(&self, ctx: &mut Context<'_, K, O>, timestamp: u64, value: T) {
        let mut elements = self.elements.get(ctx, &timestamp).unwrap_or_default();
        if elements.is_empty() {
            let mut timestamps = self.timestamps.value(ctx).unwrap_or_default();
            let at = timestamps.partition_point(|&buffered| buffered < timestamp);
            timestamps.insert(at, timestamp);
            self.timestamps.update(ctx, timestamps);
        }
        elements.push(value);
        self.elements.put(ctx, timestamp, elements);
    }

    /// The buffered elements with timestamps in `[low, high]`, by timestamp.
    fn range<K: Key, O>(&self, ctx: &mut Context<'_, K, O>, low: u64, high: u64) -> Vec<(u64, Vec<T>)> {
        let Some(timestamps) = self.timestamps.value(ctx) else { return Vec::new() };
        let from = timestamps.partition_point(|&timestamp| timestamp < low);
        let to = timestamps.partition_point(|&timestamp| timestamp <= high);
        timestamps[from..to.max(from)]
            .iter()
            .map(|&timestamp| (timestamp, self.elements.get(ctx, &timestamp).unwrap_or_default()))
            .collect()
    }

    /// Drops the elements with timestamps `<= limit`.
    fn remove_up_to<K: Key, O>(&self, ctx: &mut Context<'_, K, O>, limit: u64) {
        let Some(mut timestamps) = self.timestamps.value(ctx) else { return };
        let count = timestamps.partition_point(|&timestamp| timestamp <= limit);
        if count == 0 {
            return;
        }
        for timestamp in timestamps.drain(..count) {
            self.elements.remove(ctx, &timestamp);
        }
        if timestamps.is_empty() {
            self.timestamps.clear(ctx);
        } else {
            self.timestamps.update(ctx, timestamps);
        }
    }
}

/// The keyed function behind the interval join.
struct IntervalJoinOperator<A, B, O, F> {
    /// Inclusive bounds of `right.ts - left.ts`.
    lower: i128,
    upper: i128,
    left_late: Option<OutputTag<A>>,
    right_late: Option<OutputTag<B>>,
    function: F,
    left: Option<TimeBuffer<A>>,
    right: Option<TimeBuffer<B>>,
    out: Vec<(O, u64)>,
}

impl<K: Key, A: Data, B: Data, O, F: ProcessJoinFunction<A, B, O>> KeyedCoProcessFunction<K, A, B, O>
    for IntervalJoinOperator<A, B, O, F>
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.left = Some(TimeBuffer::open(ctx, "left"));
        self.right = Some(TimeBuffer::open(ctx, "right"));
    }

    fn process_element1(&mut self, value: A, ctx: &mut Context<'_, K, O>) {
        let (timestamp, watermark) = (ctx.timestamp(), ctx.current_watermark());
        if timestamp < watermark {
            if let Some(tag) = &self.left_late {
                ctx.emit_to(tag, value);
            }
            return;
        }
        let (low, high) = (i128::from(timestamp) + self.lower, i128::from(timestamp) + self.upper);
        if high >= 0 {
            let right = self.right.as_ref().expect("open registers the state");
            for (right_timestamp, elements) in right.range(ctx, clamp_time(low), clamp_time(high)) {
                for element in &elements {
                    let at = timestamp.max(right_timestamp);
                    call_join(
                        &mut self.function,
                        &mut self.out,
                        (timestamp, &value),
                        (right_timestamp, element),
                        at,
                        None,
                    );
                }
            }
            flush(&mut self.out, ctx);
        }
        // On-time right elements still to come have `right.ts >= watermark`: keep this one
        // while one of them can still match, until the watermark passes `ts + upper`.
        if high >= i128::from(watermark) {
            let cleanup = clamp_time(high);
            self.left.as_ref().expect("open registers the state").add(ctx, timestamp, value);
            ctx.register_event_time_timer(cleanup);
        }
    }

    fn process_element2(&mut self, value: B, ctx: &mut Context<'_, K, O>) {
        let (timestamp, watermark) = (ctx.timestamp(), ctx.current_watermark());
        if timestamp < watermark {
            if let Some(tag) = &self.right_late {
                ctx.emit_to(tag, value);
            }
            return;
        }
        let (low, high) = (i128::from(timestamp) - self.upper, i128::from(timestamp) - self.lower);
        if high >= 0 {
            let left = self.left.as_ref().expect("open registers the state");
            for (left_timestamp, elements) in left.range(ctx, clamp_time(low), clamp_time(high)) {
                for element in &elements {
                    let at = timestamp.max(left_timestamp);
                    call_join(
                        &mut self.function,
                        &mut self.out,
                        (left_timestamp, element),
                        (timestamp, &value),
                        at,
                        None,
                    );
                }
            }
            flush(&mut self.out, ctx);
        }
        if high >= i128::from(watermark) {
            let cleanup = clamp_time(high);
            self.right.as_ref().expect("open registers the state").add(ctx, timestamp, value);
            ctx.register_event_time_timer(cleanup);
        }
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        // The watermark is now `timestamp + 1`: a left element can no longer match once
        // `ts + upper <= timestamp`, a right one once `ts - lower <= timestamp`.
        let left_limit = i128::from(timestamp) - self.upper;
        if left_limit >= 0 {
            self.left.as_ref().expect("open registers the state").remove_up_to(ctx, clamp_time(left_limit));
        }
        let right_limit = i128::from(timestamp) + self.lower;
        if right_limit >= 0 {
            self.right.as_ref().expect("open registers the state").remove_up_to(ctx, clamp_time(right_limit));
        }
    }
}

// ------------------------------------------------------------------------------------------
// Window join and regular join
// ------------------------------------------------------------------------------------------

/// Two streams to be joined; see [`DataStream::join`].
pub struct JoinedStreams<'scope, A, B> {
    left: DataStream<'scope, A>,
    right: DataStream<'scope, B>,
}

/// A join with the left key chosen, waiting for the right key ([`JoinWhere::equal_to`]).
pub struct JoinWhere<'scope, K, A, B> {
    left: DataStream<'scope, A>,
    right: DataStream<'scope, B>,
    key_left: KeyFn<K, A>,
}

/// A join on equal keys: add a [`window`](Self::window) for a window join, or
/// [`apply`](Self::apply) / [`process`](Self::process) directly for the regular (unbounded)
/// join.
pub struct KeyedJoinedStreams<'scope, K, A, B> {
    left: DataStream<'scope, A>,
    right: DataStream<'scope, B>,
    key_left: KeyFn<K, A>,
    key_right: KeyFn<K, B>,
    ttl: Option<StateTtlConfig>,
}

/// A window join waiting for its join function.
pub struct WindowJoin<'scope, K, A, B> {
    joined: KeyedJoinedStreams<'scope, K, A, B>,
    assigner_left: Rc<dyn WindowAssigner<A>>,
    assigner_right: Rc<dyn WindowAssigner<B>>,
}

impl<'scope, A: Data> DataStream<'scope, A> {
    /// Joins this stream with `other` on equal keys: continue with
    /// [`where_key`](JoinedStreams::where_key) and [`equal_to`](JoinWhere::equal_to), then
    /// either a [`window`](KeyedJoinedStreams::window) (Flink's window join) or nothing (the
    /// regular join of SQL).
    pub fn join<B: Data>(self, other: DataStream<'scope, B>) -> JoinedStreams<'scope, A, B> {
        JoinedStreams { left: self, right: other }
    }
}

impl<'scope, A: Data, B: Data> JoinedStreams<'scope, A, B> {
    /// The key of the left (this) stream. Flink's `where`. The function must be
    /// deterministic.
    pub fn where_key<K: Key>(self, key: impl Fn(&A) -> K + 'static) -> JoinWhere<'scope, K, A, B> {
        JoinWhere { left: self.left, right: self.right, key_left: Rc::new(key) }
    }
}

impl<'scope, K: Key, A: Data, B: Data> JoinWhere<'scope, K, A, B> {
    /// The key of the right (other) stream; pairs with equal keys are joined. Flink's
    /// `equalTo`.
    pub fn equal_to(self, key: impl Fn(&B) -> K + 'static) -> KeyedJoinedStreams<'scope, K, A, B> {
        KeyedJoinedStreams {
            left: self.left,
            right: self.right,
            key_left: self.key_left,
            key_right: Rc::new(key),
            ttl: None,
        }
    }
}

impl<'scope, K: Key, A: Data, B: Data> KeyedJoinedStreams<'scope, K, A, B> {
    /// Joins pairs of the same key in the same event-time window, when the window fires (the
    /// watermark passes its max timestamp); results carry the window's max timestamp. Any
    /// non-merging event-time assigner works (tumbling, sliding).
    ///
    /// # Panics
    /// If the assigner merges windows (sessions) or is on processing time.
    pub fn window<W>(self, assigner: W) -> WindowJoin<'scope, K, A, B>
    where
        W: WindowAssigner<A> + WindowAssigner<B> + 'static,
    {
        assert!(
            WindowAssigner::<A>::is_event_time(&assigner) && WindowAssigner::<B>::is_event_time(&assigner),
            "window join: only event-time windows are supported"
        );
        assert!(
            !WindowAssigner::<A>::is_merging(&assigner) && !WindowAssigner::<B>::is_merging(&assigner),
            "window join: merging (session) windows are not supported"
        );
        let assigner = Rc::new(assigner);
        let assigner_left: Rc<dyn WindowAssigner<A>> = assigner.clone();
        let assigner_right: Rc<dyn WindowAssigner<B>> = assigner;
        WindowJoin { joined: self, assigner_left, assigner_right }
    }

    /// Bounds the state of the regular join: each buffered element is forgotten `ttl` after
    /// it was stored (Flink's `table.exec.state.ttl`), so it no longer joins with later
    /// elements. Only the regular join uses it.
    pub fn state_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.ttl = Some(ttl);
        self
    }

    fn build<O: Clone + 'static>(
        self,
        name: &str,
        logic: impl KeyedCoProcessFunction<K, A, B, O> + 'static,
    ) -> DataStream<'scope, O> {
        let context = self.left.context.clone();
        let left = self.left.into_timely();
        let right = self.right.into_timely();
        keyed_operator(context, name, (left, self.key_left), Some((right, self.key_right)), TwoInputs(logic))
    }

    /// The regular inner join: calls `function` for every pair of equal keys as soon as both
    /// elements have been applied, whatever their timestamps (no lateness, nothing dropped).
    /// Results carry `max(left.ts, right.ts)`. Both sides are kept in keyed state forever,
    /// or for the [`state_ttl`](Self::state_ttl).
    pub fn process<O: Clone + 'static>(
        self,
        function: impl ProcessJoinFunction<A, B, O> + 'static,
    ) -> DataStream<'scope, O> {
        let operator =
            RegularJoinOperator { ttl: self.ttl, function, left: None, right: None, out: Vec::new() };
        self.build("RegularJoin", operator)
    }

    /// The regular inner join emitting `function(left, right)` for every pair; see
    /// [`process`](Self::process).
    pub fn apply<O: Clone + 'static>(
        self,
        function: impl FnMut(&A, &B) -> O + 'static,
    ) -> DataStream<'scope, O> {
        self.process(JoinFn(function))
    }
}

impl<'scope, K: Key, A: Data, B: Data> WindowJoin<'scope, K, A, B> {
    /// Calls `function` for every pair of the same key in the same window when it fires.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl ProcessJoinFunction<A, B, O> + 'static,
    ) -> DataStream<'scope, O> {
        let operator = WindowJoinOperator {
            assigner_left: self.assigner_left,
            assigner_right: self.assigner_right,
            function,
            left: None,
            right: None,
            out: Vec::new(),
        };
        self.joined.build("WindowJoin", operator)
    }

    /// Emits `function(left, right)` for every pair of the same key in the same window.
    pub fn apply<O: Clone + 'static>(
        self,
        function: impl FnMut(&A, &B) -> O + 'static,
    ) -> DataStream<'scope, O> {
        self.process(JoinFn(function))
    }
}

/// The keyed function behind the window join: each side's elements with their timestamps, in
/// arrival order, and one timer per window end.
struct WindowJoinOperator<A, B, O, F> {
    assigner_left: Rc<dyn WindowAssigner<A>>,
    assigner_right: Rc<dyn WindowAssigner<B>>,
    function: F,
    left: Option<ListState<(u64, A)>>,
    right: Option<ListState<(u64, B)>>,
    out: Vec<(O, u64)>,
}

/// Registers timers for the windows of an element that are not late; `false` if all are.
fn register_windows<K: Key, O>(windows: &[Window], ctx: &mut Context<'_, K, O>) -> bool {
    let watermark = ctx.current_watermark();
    let mut live = false;
    for window in windows {
        // Late once the watermark has passed the max timestamp: the window has fired.
        if window.max_timestamp() >= watermark {
            ctx.register_event_time_timer(window.max_timestamp());
            live = true;
        }
    }
    live
}

/// Splits a side's elements at a firing at `timestamp`: the windows of each element that fire
/// now, and the elements that belong to a later window too.
fn split_firing<T: Clone>(
    elements: &[(u64, T)],
    assigner: &dyn WindowAssigner<T>,
    timestamp: u64,
) -> (Vec<Vec<Window>>, Vec<(u64, T)>, bool) {
    let mut firing = Vec::with_capacity(elements.len());
    let mut kept = Vec::new();
    for (element_timestamp, value) in elements {
        let windows = assigner.assign_windows(value, *element_timestamp, 0);
        if windows.iter().any(|window| window.max_timestamp() > timestamp) {
            kept.push((*element_timestamp, value.clone()));
        }
        firing.push(windows.into_iter().filter(|window| window.max_timestamp() == timestamp).collect());
    }
    let changed = kept.len() != elements.len();
    (firing, kept, changed)
}

impl<K: Key, A: Data, B: Data, O, F: ProcessJoinFunction<A, B, O>> KeyedCoProcessFunction<K, A, B, O>
    for WindowJoinOperator<A, B, O, F>
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.left = Some(ctx.list_state("left"));
        self.right = Some(ctx.list_state("right"));
    }

    fn process_element1(&mut self, value: A, ctx: &mut Context<'_, K, O>) {
        let timestamp = ctx.timestamp();
        let windows = self.assigner_left.assign_windows(&value, timestamp, ctx.current_processing_time());
        if register_windows(&windows, ctx) {
            self.left.as_ref().expect("open registers the state").add(ctx, (timestamp, value));
        }
    }

    fn process_element2(&mut self, value: B, ctx: &mut Context<'_, K, O>) {
        let timestamp = ctx.timestamp();
        let windows = self.assigner_right.assign_windows(&value, timestamp, ctx.current_processing_time());
        if register_windows(&windows, ctx) {
            self.right.as_ref().expect("open registers the state").add(ctx, (timestamp, value));
        }
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        let (left_state, right_state) =
            (self.left.clone().expect("open registers the state"), self.right.clone().expect("opened"));
        let (lefts, rights) = (left_state.get(ctx), right_state.get(ctx));
        let (left_windows, left_kept, left_changed) =
            split_firing(&lefts, self.assigner_left.as_ref(), timestamp);
        let (right_windows, right_kept, right_changed) =
            split_firing(&rights, self.assigner_right.as_ref(), timestamp);
        // Every window ending now (usually one), in order; then its pairs in arrival order.
        let mut windows: Vec<Window> = left_windows.iter().flatten().copied().collect();
        windows.sort_unstable();
        windows.dedup();
        for window in windows {
            for ((left_timestamp, left), in_left) in lefts.iter().zip(&left_windows) {
                if !in_left.contains(&window) {
                    continue;
                }
                for ((right_timestamp, right), in_right) in rights.iter().zip(&right_windows) {
                    if in_right.contains(&window) {
                        call_join(
                            &mut self.function,
                            &mut self.out,
                            (*left_timestamp, left),
                            (*right_timestamp, right),
                            timestamp,
                            Some(window),
                        );
                    }
                }
            }
        }
        flush(&mut self.out, ctx);
        if left_changed {
            left_state.update(ctx, left_kept);
        }
        if right_changed {
            right_state.update(ctx, right_kept);
        }
    }
}

/// The keyed function behind the regular join: both sides in keyed lists (with the optional
/// time-to-live per element).
struct RegularJoinOperator<A, B, O, F> {
    ttl: Option<StateTtlConfig>,
    function: F,
    left: Option<ListState<(u64, A)>>,
    right: Option<ListState<(u64, B)>>,
    out: Vec<(O, u64)>,
}

impl<K: Key, A: Data, B: Data, O, F: ProcessJoinFunction<A, B, O>> KeyedCoProcessFunction<K, A, B, O>
    for RegularJoinOperator<A, B, O, F>
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        let descriptor = |name: &str| match self.ttl {
            Some(ttl) => StateDescriptor::new(name).with_ttl(ttl),
            None => StateDescriptor::new(name),
        };
        self.left = Some(ctx.list_state(descriptor("left")));
        self.right = Some(ctx.list_state(descriptor("right")));
    }

    fn process_element1(&mut self, value: A, ctx: &mut Context<'_, K, O>) {
        let timestamp = ctx.timestamp();
        let right = self.right.as_ref().expect("open registers the state");
        for (right_timestamp, element) in right.get(ctx) {
            let at = timestamp.max(right_timestamp);
            call_join(
                &mut self.function,
                &mut self.out,
                (timestamp, &value),
                (right_timestamp, &element),
                at,
                None,
            );
        }
        flush(&mut self.out, ctx);
        self.left.as_ref().expect("open registers the state").add(ctx, (timestamp, value));
    }

    fn process_element2(&mut self, value: B, ctx: &mut Context<'_, K, O>) {
        let timestamp = ctx.timestamp();
        let left = self.left.as_ref().expect("open registers the state");
        for (left_timestamp, element) in left.get(ctx) {
            let at = timestamp.max(left_timestamp);
            call_join(
                &mut self.function,
                &mut self.out,
                (left_timestamp, &element),
                (timestamp, &value),
                at,
                None,
            );
        }
        flush(&mut self.out, ctx);
        self.right.as_ref().expect("open registers the state").add(ctx, (timestamp, value));
    }
}
