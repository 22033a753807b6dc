//! Triggers: when a window's function runs, and whether its contents are purged.
//!
//! # Event time
//! Watermarks in trigger contexts have eddy's frontier semantics: `current_watermark() = w`
//! means no more on-time elements below `w`, so a window is complete once
//! `max_timestamp < w` (Flink: `max_timestamp <= W`, with `W = w - 1`).
//!
//! # State
//! Each (key, window) pane has a small [`TriggerState`] (a counter and a pending fire time)
//! that triggers keep their bookkeeping in; it is merged with `on_merge` when windows merge and
//! dropped when the window is cleaned up.

use std::rc::Rc;

use super::Window;

/// What a trigger decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerResult {
    /// Nothing happens.
    Continue,
    /// The window function runs over the window's contents, which are kept.
    Fire,
    /// The window's contents are dropped without running the function.
    Purge,
    /// The window function runs, then the contents are dropped.
    FireAndPurge,
}

impl TriggerResult {
    /// Whether the window function runs.
    pub fn is_fire(self) -> bool {
        matches!(self, TriggerResult::Fire | TriggerResult::FireAndPurge)
    }
    /// Whether the contents are dropped.
    pub fn is_purge(self) -> bool {
        matches!(self, TriggerResult::Purge | TriggerResult::FireAndPurge)
    }
}

/// Per-pane trigger bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TriggerState {
    /// A counter (count triggers).
    pub count: u64,
    /// A pending fire time (continuous triggers).
    pub fire_at: Option<u64>,
}

/// A timer change requested by a trigger, applied by the window operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // The variants name the time domain they act on.
pub(crate) enum TimerRequest {
    RegisterEventTime(u64),
    DeleteEventTime(u64),
    RegisterProcessingTime(u64),
    DeleteProcessingTime(u64),
}

/// What a trigger can see and do for one pane.
pub struct TriggerContext<'a> {
    pub(crate) watermark: u64,
    pub(crate) processing_time: u64,
    pub(crate) state: &'a mut TriggerState,
    pub(crate) requests: &'a mut Vec<TimerRequest>,
}

impl TriggerContext<'_> {
    /// The operator's watermark (frontier semantics).
    pub fn current_watermark(&self) -> u64 {
        self.watermark
    }
    /// The injected clock's time.
    pub fn current_processing_time(&self) -> u64 {
        self.processing_time
    }
    /// This pane's trigger state.
    pub fn state(&mut self) -> &mut TriggerState {
        self.state
    }
    /// Calls `on_event_time` for this window once the watermark passes `time`.
    pub fn register_event_time_timer(&mut self, time: u64) {
        self.requests.push(TimerRequest::RegisterEventTime(time));
    }
    /// Deletes an event-time timer of this window.
    pub fn delete_event_time_timer(&mut self, time: u64) {
        self.requests.push(TimerRequest::DeleteEventTime(time));
    }
    /// Calls `on_processing_time` for this window once the clock reaches `time`.
    pub fn register_processing_time_timer(&mut self, time: u64) {
        self.requests.push(TimerRequest::RegisterProcessingTime(time));
    }
    /// Deletes a processing-time timer of this window.
    pub fn delete_processing_time_timer(&mut self, time: u64) {
        self.requests.push(TimerRequest::DeleteProcessingTime(time));
    }
}

/// Decides when windows fire. One trigger object serves all keys and windows; per-pane
/// bookkeeping goes in [`TriggerContext::state`].
pub trait Trigger<T> {
    /// An element was added to `window`.
    fn on_element(
        &self,
        value: &T,
        timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult;
    /// An event-time timer of `window` fired at `time`. Does nothing unless overridden.
    fn on_event_time(&self, _time: u64, _window: &Window, _ctx: &mut TriggerContext<'_>) -> TriggerResult {
        TriggerResult::Continue
    }
    /// A processing-time timer of `window` fired at `time`. Does nothing unless overridden.
    fn on_processing_time(
        &self,
        _time: u64,
        _window: &Window,
        _ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    /// `window` is the merge of windows whose trigger states are `merged`; `ctx.state()` starts
    /// empty. Triggers used with merging windows must implement this.
    fn on_merge(&self, _window: &Window, _merged: &[TriggerState], _ctx: &mut TriggerContext<'_>) {
        panic!("this trigger does not support merging windows");
    }
    /// The window is being cleaned up: delete timers and state. (The operator drops any timer
    /// of the window left behind, so triggers without timers or state need not override it.)
    fn clear(&self, _window: &Window, _ctx: &mut TriggerContext<'_>) {}
}

impl<T, R: Trigger<T> + ?Sized> Trigger<T> for Rc<R> {
    fn on_element(
        &self,
        value: &T,
        timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        (**self).on_element(value, timestamp, window, ctx)
    }
    fn on_event_time(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        (**self).on_event_time(time, window, ctx)
    }
    fn on_processing_time(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        (**self).on_processing_time(time, window, ctx)
    }
    fn on_merge(&self, window: &Window, merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        (**self).on_merge(window, merged, ctx)
    }
    fn clear(&self, window: &Window, ctx: &mut TriggerContext<'_>) {
        (**self).clear(window, ctx)
    }
}

/// Fires when the watermark passes the window's end; fires again at once for every element
/// added later (within allowed lateness). The default of event-time windows.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventTimeTrigger;

impl EventTimeTrigger {
    /// The event-time trigger.
    pub fn create() -> Self {
        EventTimeTrigger
    }
}

impl<T> Trigger<T> for EventTimeTrigger {
    fn on_element(
        &self,
        _value: &T,
        _timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if window.max_timestamp() < ctx.current_watermark() {
            // The watermark has passed the window: a late element within allowed lateness.
            TriggerResult::Fire
        } else {
            ctx.register_event_time_timer(window.max_timestamp());
            TriggerResult::Continue
        }
    }
    fn on_event_time(&self, time: u64, window: &Window, _ctx: &mut TriggerContext<'_>) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_merge(&self, window: &Window, _merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        if window.max_timestamp() >= ctx.current_watermark() {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }
    fn clear(&self, window: &Window, ctx: &mut TriggerContext<'_>) {
        ctx.delete_event_time_timer(window.max_timestamp());
    }
}

/// Fires when the clock reaches the window's end. The default of processing-time windows.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessingTimeTrigger;

impl ProcessingTimeTrigger {
    /// The processing-time trigger.
    pub fn create() -> Self {
        ProcessingTimeTrigger
    }
}

impl<T> Trigger<T> for ProcessingTimeTrigger {
    fn on_element(
        &self,
        _value: &T,
        _timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        ctx.register_processing_time_timer(window.max_timestamp());
        TriggerResult::Continue
    }
    fn on_processing_time(
        &self,
        _time: u64,
        _window: &Window,
        _ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Fire
    }
    fn on_merge(&self, window: &Window, _merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        if window.max_timestamp() > ctx.current_processing_time() {
            ctx.register_processing_time_timer(window.max_timestamp());
        }
    }
    fn clear(&self, window: &Window, ctx: &mut TriggerContext<'_>) {
        ctx.delete_processing_time_timer(window.max_timestamp());
    }
}

/// Fires on every `n`-th element of a pane; the count restarts after each firing and adds up
/// when windows merge.
#[derive(Clone, Copy, Debug)]
pub struct CountTrigger {
    count: u64,
}

impl CountTrigger {
    /// Fires every `count` elements.
    pub fn of(count: u64) -> Self {
        assert!(count > 0, "count trigger needs a positive count");
        CountTrigger { count }
    }
}

impl<T> Trigger<T> for CountTrigger {
    fn on_element(
        &self,
        _value: &T,
        _timestamp: u64,
        _window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        let state = ctx.state();
        state.count += 1;
        if state.count >= self.count {
            state.count = 0;
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_merge(&self, _window: &Window, merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        ctx.state().count += merged.iter().map(|state| state.count).sum::<u64>();
    }
    fn clear(&self, _window: &Window, ctx: &mut TriggerContext<'_>) {
        ctx.state().count = 0;
    }
}

/// The periodic firing shared by the continuous triggers: a pending fire time per pane, kept
/// as a timer in one time domain.
#[derive(Clone, Copy, Debug)]
struct Periodic {
    interval: u64,
    event_time: bool,
}

impl Periodic {
    fn new(interval_ms: u64, event_time: bool) -> Self {
        assert!(interval_ms > 0, "interval must be positive");
        Periodic { interval: interval_ms, event_time }
    }

    fn register(&self, time: u64, ctx: &mut TriggerContext<'_>) {
        if self.event_time {
            ctx.register_event_time_timer(time)
        } else {
            ctx.register_processing_time_timer(time)
        }
    }

    /// Schedules the next firing an interval after `time` (at most the window's end).
    fn register_next(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) {
        let next = time.saturating_add(self.interval).min(window.max_timestamp());
        ctx.state().fire_at = Some(next);
        self.register(next, ctx);
    }

    /// Starts the series at the interval containing `time`, unless it is running.
    fn start(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) {
        if ctx.state().fire_at.is_none() {
            self.register_next(time - time % self.interval, window, ctx);
        }
    }

    fn on_timer(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        if time == window.max_timestamp() {
            return TriggerResult::Fire;
        }
        if ctx.state().fire_at == Some(time) {
            ctx.state().fire_at = None;
            self.register_next(time, window, ctx);
            return TriggerResult::Fire;
        }
        TriggerResult::Continue
    }

    fn on_merge(&self, merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        let next = merged.iter().filter_map(|state| state.fire_at).min();
        ctx.state().fire_at = next;
        if let Some(next) = next {
            self.register(next, ctx);
        }
    }

    fn clear(&self, ctx: &mut TriggerContext<'_>) {
        if let Some(fire_at) = ctx.state().fire_at.take() {
            if self.event_time {
                ctx.delete_event_time_timer(fire_at)
            } else {
                ctx.delete_processing_time_timer(fire_at)
            }
        }
    }
}

/// Fires every `interval` of event time (at multiples of it, starting from the pane's first
/// element) and when the watermark passes the window's end.
///
/// # Event time
/// When a bounded input ends, event time advances to its end and the trigger keeps firing
/// every `interval` up to the window's end, as in Flink. Do not combine it with windows that
/// never end (global windows) on bounded input: the series would not end either.
#[derive(Clone, Copy, Debug)]
pub struct ContinuousEventTimeTrigger(Periodic);

impl ContinuousEventTimeTrigger {
    /// Fires every `interval_ms` of event time.
    pub fn of(interval_ms: u64) -> Self {
        ContinuousEventTimeTrigger(Periodic::new(interval_ms, true))
    }
}

impl<T> Trigger<T> for ContinuousEventTimeTrigger {
    fn on_element(
        &self,
        _value: &T,
        timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if window.max_timestamp() < ctx.current_watermark() {
            return TriggerResult::Fire;
        }
        ctx.register_event_time_timer(window.max_timestamp());
        self.0.start(timestamp, window, ctx);
        TriggerResult::Continue
    }
    fn on_event_time(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        self.0.on_timer(time, window, ctx)
    }
    fn on_merge(&self, _window: &Window, merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        self.0.on_merge(merged, ctx)
    }
    fn clear(&self, _window: &Window, ctx: &mut TriggerContext<'_>) {
        self.0.clear(ctx)
    }
}

/// Fires every `interval` of processing time while the window has elements, and at its end.
#[derive(Clone, Copy, Debug)]
pub struct ContinuousProcessingTimeTrigger(Periodic);

impl ContinuousProcessingTimeTrigger {
    /// Fires every `interval_ms` of processing time.
    pub fn of(interval_ms: u64) -> Self {
        ContinuousProcessingTimeTrigger(Periodic::new(interval_ms, false))
    }
}

impl<T> Trigger<T> for ContinuousProcessingTimeTrigger {
    fn on_element(
        &self,
        _value: &T,
        _timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        let now = ctx.current_processing_time();
        self.0.start(now, window, ctx);
        TriggerResult::Continue
    }
    fn on_processing_time(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        self.0.on_timer(time, window, ctx)
    }
    fn on_merge(&self, _window: &Window, merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        self.0.on_merge(merged, ctx)
    }
    fn clear(&self, _window: &Window, ctx: &mut TriggerContext<'_>) {
        self.0.clear(ctx)
    }
}

/// Turns every firing of the inner trigger into fire-and-purge.
pub struct PurgingTrigger<T> {
    inner: Box<dyn Trigger<T>>,
}

impl<T: 'static> PurgingTrigger<T> {
    /// Wraps `inner`.
    pub fn of(inner: impl Trigger<T> + 'static) -> Self {
        PurgingTrigger { inner: Box::new(inner) }
    }
}

fn purging(result: TriggerResult) -> TriggerResult {
    if result.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        result
    }
}

impl<T> Trigger<T> for PurgingTrigger<T> {
    fn on_element(
        &self,
        value: &T,
        timestamp: u64,
        window: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        purging(self.inner.on_element(value, timestamp, window, ctx))
    }
    fn on_event_time(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        purging(self.inner.on_event_time(time, window, ctx))
    }
    fn on_processing_time(&self, time: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        purging(self.inner.on_processing_time(time, window, ctx))
    }
    fn on_merge(&self, window: &Window, merged: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        self.inner.on_merge(window, merged, ctx)
    }
    fn clear(&self, window: &Window, ctx: &mut TriggerContext<'_>) {
        self.inner.clear(window, ctx)
    }
}

/// Never fires: the default trigger of global windows, which need a trigger of their own.
#[derive(Clone, Copy, Debug, Default)]
pub struct NeverTrigger;

impl NeverTrigger {
    /// The trigger that never fires.
    pub fn create() -> Self {
        NeverTrigger
    }
}

impl<T> Trigger<T> for NeverTrigger {
    fn on_element(&self, _: &T, _: u64, _: &Window, _: &mut TriggerContext<'_>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_merge(&self, _: &Window, _: &[TriggerState], _: &mut TriggerContext<'_>) {}
}

/// Fires once, when the watermark passes the window's maximum timestamp; for a global window
/// that is the end of the stream. Unlike [`EventTimeTrigger`], later elements do not re-fire.
#[derive(Clone, Copy, Debug, Default)]
pub struct EndOfStreamTrigger;

impl EndOfStreamTrigger {
    /// The end-of-stream trigger.
    pub fn create() -> Self {
        EndOfStreamTrigger
    }
}

impl<T> Trigger<T> for EndOfStreamTrigger {
    fn on_element(&self, _: &T, _: u64, window: &Window, ctx: &mut TriggerContext<'_>) -> TriggerResult {
        ctx.register_event_time_timer(window.max_timestamp());
        TriggerResult::Continue
    }
    fn on_event_time(&self, time: u64, window: &Window, _: &mut TriggerContext<'_>) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_merge(&self, window: &Window, _: &[TriggerState], ctx: &mut TriggerContext<'_>) {
        ctx.register_event_time_timer(window.max_timestamp());
    }
    fn clear(&self, window: &Window, ctx: &mut TriggerContext<'_>) {
        ctx.delete_event_time_timer(window.max_timestamp());
    }
}
