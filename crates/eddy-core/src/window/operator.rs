//! The window operator: a keyed process function that keeps, per key, the live windows'
//! contents, trigger state and timers, following Flink's `WindowOperator` and
//! `EvictingWindowOperator` step by step (element: assign, merge, drop late windows, add,
//! trigger, fire/purge, register cleanup; timer: trigger, fire/purge, clean up).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

use super::assigners::{merge_windows, WindowAssigner};
use super::evictors::Evictor;
use super::triggers::{TimerRequest, Trigger, TriggerContext, TriggerResult, TriggerState};
use super::{ProcessWindowFunction, Window, WindowContext, GLOBAL_MAX_TIMESTAMP};
use crate::error::{describe, Error};
use crate::operators::process::{Context, Key, KeyedProcessFunction};
use crate::record::check_event_time;
use crate::runtime::JobShared;
use crate::side_output::OutputTag;
use crate::state::{AggregateFunction, OpenContext, ValueState};
use crate::timers::TimeDomain;

/// How a window's contents are kept and turned into results.
pub(crate) trait PaneOps<K, V, O> {
    /// What a pane holds: an accumulator, or the elements.
    type Contents: crate::state::StateValue;
    fn add(&self, contents: &mut Option<Self::Contents>, timestamp: u64, value: V);
    fn merge(&self, into: &mut Option<Self::Contents>, other: Self::Contents);
    fn fire(
        &mut self,
        key: &K,
        window: &Window,
        contents: &mut Self::Contents,
        ctx: &mut WindowContext<'_, O>,
    );
}

/// Incremental `reduce`.
pub(crate) struct ReducePane<F> {
    pub(crate) reduce: F,
}

impl<K, V: crate::state::StateValue, F: Fn(&V, &V) -> V> PaneOps<K, V, V> for ReducePane<F> {
    type Contents = V;
    fn add(&self, contents: &mut Option<V>, _timestamp: u64, value: V) {
        <Self as PaneOps<K, V, V>>::merge(self, contents, value);
    }
    fn merge(&self, into: &mut Option<V>, other: V) {
        *into = Some(match into.take() {
            Some(accumulated) => (self.reduce)(&accumulated, &other),
            None => other,
        });
    }
    fn fire(&mut self, _key: &K, _window: &Window, contents: &mut V, ctx: &mut WindowContext<'_, V>) {
        ctx.emit(contents.clone());
    }
}

/// Incremental `aggregate`, then a window function over the single result.
pub(crate) struct AggregatePane<A, P> {
    pub(crate) function: A,
    pub(crate) process: P,
}

impl<K, V, O, A: AggregateFunction<V>, P: ProcessWindowFunction<K, A::Out, O>> PaneOps<K, V, O>
    for AggregatePane<A, P>
{
    type Contents = A::Acc;
    fn add(&self, contents: &mut Option<A::Acc>, _timestamp: u64, value: V) {
        let accumulator = contents.get_or_insert_with(|| self.function.create_accumulator());
        self.function.add(accumulator, value);
    }
    fn merge(&self, into: &mut Option<A::Acc>, other: A::Acc) {
        *into = Some(match into.take() {
            Some(accumulator) => self.function.merge(accumulator, other),
            None => other,
        });
    }
    fn fire(&mut self, key: &K, window: &Window, contents: &mut A::Acc, ctx: &mut WindowContext<'_, O>) {
        let result = self.function.get_result(contents);
        self.process.process(key, window, std::slice::from_ref(&result), ctx);
    }
}

/// All elements kept; optional evictor around the window function.
pub(crate) struct ListPane<V, P> {
    pub(crate) evictor: Option<Rc<dyn Evictor<V>>>,
    pub(crate) function: P,
}

impl<K, V: crate::state::StateValue, O, P: ProcessWindowFunction<K, V, O>> PaneOps<K, V, O>
    for ListPane<V, P>
{
    type Contents = Vec<(u64, V)>;
    fn add(&self, contents: &mut Option<Vec<(u64, V)>>, timestamp: u64, value: V) {
        contents.get_or_insert_with(Vec::new).push((timestamp, value));
    }
    fn merge(&self, into: &mut Option<Vec<(u64, V)>>, other: Vec<(u64, V)>) {
        into.get_or_insert_with(Vec::new).extend(other);
    }
    fn fire(
        &mut self,
        key: &K,
        window: &Window,
        contents: &mut Vec<(u64, V)>,
        ctx: &mut WindowContext<'_, O>,
    ) {
        if let Some(evictor) = &self.evictor {
            evictor.evict_before(contents, window);
        }
        let values: Vec<V> = contents.iter().map(|(_, value)| value.clone()).collect();
        self.function.process(key, window, &values, ctx);
        if let Some(evictor) = &self.evictor {
            evictor.evict_after(contents, window);
        }
    }
}

/// One live window of one key.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
struct Pane<C> {
    /// `None` before the first element and after a purge.
    contents: Option<C>,
    trigger: TriggerState,
}

impl<C> Default for Pane<C> {
    fn default() -> Self {
        Pane { contents: None, trigger: TriggerState::default() }
    }
}

/// Everything the operator keeps for one key.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
struct KeyWindows<C> {
    panes: BTreeMap<Window, Pane<C>>,
    event_timers: BTreeMap<u64, BTreeSet<Window>>,
    processing_timers: BTreeMap<u64, BTreeSet<Window>>,
}

impl<C> Default for KeyWindows<C> {
    fn default() -> Self {
        KeyWindows {
            panes: BTreeMap::new(),
            event_timers: BTreeMap::new(),
            processing_timers: BTreeMap::new(),
        }
    }
}

impl<C> KeyWindows<C> {
    fn is_empty(&self) -> bool {
        self.panes.is_empty() && self.event_timers.is_empty() && self.processing_timers.is_empty()
    }

    /// Applies a trigger's timer requests for `window`, registering engine timers per distinct
    /// time and deleting them when no window of the key needs that time any more.
    fn apply<K: Key, O>(
        &mut self,
        window: Window,
        requests: &mut Vec<TimerRequest>,
        ctx: &mut Context<'_, K, O>,
    ) {
        for request in requests.drain(..) {
            match request {
                // The engine holds one timer per (key, time): register it only for the first
                // window that needs the time (registering again would change nothing).
                TimerRequest::RegisterEventTime(time) => {
                    let windows = self.event_timers.entry(time).or_default();
                    if windows.is_empty() {
                        ctx.register_event_time_timer(time);
                    }
                    windows.insert(window);
                }
                TimerRequest::RegisterProcessingTime(time) => {
                    let windows = self.processing_timers.entry(time).or_default();
                    if windows.is_empty() {
                        ctx.register_processing_time_timer(time);
                    }
                    windows.insert(window);
                }
                TimerRequest::DeleteEventTime(time) => {
                    if remove_timer(&mut self.event_timers, time, &window) {
                        ctx.delete_event_time_timer(time);
                    }
                }
                TimerRequest::DeleteProcessingTime(time) => {
                    if remove_timer(&mut self.processing_timers, time, &window) {
                        ctx.delete_processing_time_timer(time);
                    }
                }
            }
        }
    }
}

/// Removes `window`'s timer at `time`; true when no window needs `time` any more.
fn remove_timer(timers: &mut BTreeMap<u64, BTreeSet<Window>>, time: u64, window: &Window) -> bool {
    let Some(windows) = timers.get_mut(&time) else { return false };
    if !windows.remove(window) {
        return false;
    }
    if windows.is_empty() {
        timers.remove(&time);
        return true;
    }
    false
}

pub(crate) struct WindowOperator<K, V, O, P: PaneOps<K, V, O>> {
    /// The operator's name, for errors.
    name: String,
    /// Where an event time past the supported range fails the job.
    shared: Arc<JobShared>,
    assigner: Rc<dyn WindowAssigner<V>>,
    trigger: Rc<dyn Trigger<V>>,
    allowed_lateness: u64,
    late_tag: Option<OutputTag<V>>,
    panes: P,
    state: Option<ValueState<KeyWindows<P::Contents>>>,
    requests: Vec<TimerRequest>,
    fired: Vec<(O, u64)>,
    _key: std::marker::PhantomData<fn(K)>,
}

impl<K: Key, V: Clone + 'static, O, P: PaneOps<K, V, O>> WindowOperator<K, V, O, P> {
    pub(crate) fn new(
        name: &str,
        shared: Arc<JobShared>,
        assigner: Rc<dyn WindowAssigner<V>>,
        trigger: Rc<dyn Trigger<V>>,
        allowed_lateness: u64,
        late_tag: Option<OutputTag<V>>,
        panes: P,
    ) -> Self {
        WindowOperator {
            name: name.to_owned(),
            shared,
            assigner,
            trigger,
            // Lateness only applies to event time.
            allowed_lateness,
            late_tag,
            panes,
            state: None,
            requests: Vec::new(),
            fired: Vec::new(),
            _key: std::marker::PhantomData,
        }
    }

    /// When a window's state is dropped: `max_timestamp + allowed_lateness` (saturating to the
    /// global maximum) for event time, `max_timestamp` for processing time.
    fn cleanup_time(&self, window: &Window) -> u64 {
        if self.assigner.is_event_time() {
            window.max_timestamp().saturating_add(self.allowed_lateness).min(GLOBAL_MAX_TIMESTAMP)
        } else {
            window.max_timestamp()
        }
    }

    /// Flink's `isWindowLate`: `cleanup_time <= W`, i.e. `< w` in eddy's watermark terms.
    fn is_window_late(&self, window: &Window, watermark: u64) -> bool {
        self.assigner.is_event_time() && self.cleanup_time(window) < watermark
    }

    /// Flink's `isElementLate`: `timestamp + allowed_lateness <= W`.
    fn is_element_late(&self, timestamp: u64, watermark: u64) -> bool {
        self.assigner.is_event_time() && timestamp.saturating_add(self.allowed_lateness) < watermark
    }

    fn cleanup_request(&self, window: &Window, register: bool) -> Option<TimerRequest> {
        let time = self.cleanup_time(window);
        if time >= GLOBAL_MAX_TIMESTAMP {
            return None; // Global windows are never cleaned up.
        }
        Some(match (self.assigner.is_event_time(), register) {
            (true, true) => TimerRequest::RegisterEventTime(time),
            (true, false) => TimerRequest::DeleteEventTime(time),
            (false, true) => TimerRequest::RegisterProcessingTime(time),
            (false, false) => TimerRequest::DeleteProcessingTime(time),
        })
    }

    fn trigger_context<'a>(
        requests: &'a mut Vec<TimerRequest>,
        state: &'a mut TriggerState,
        ctx: &Context<'_, K, O>,
    ) -> TriggerContext<'a> {
        TriggerContext {
            watermark: ctx.current_watermark(),
            processing_time: ctx.current_processing_time(),
            state,
            requests,
        }
    }

    /// Runs the window function over `window`'s contents (if any) into `self.fired`.
    fn fire(
        &mut self,
        windows: &mut KeyWindows<P::Contents>,
        key: &K,
        window: Window,
        ctx: &Context<'_, K, O>,
    ) {
        let Some(contents) = windows.panes.get_mut(&window).and_then(|pane| pane.contents.as_mut()) else {
            return;
        };
        let mut out = Vec::new();
        let mut window_context = WindowContext {
            window,
            watermark: ctx.current_watermark(),
            processing_time: ctx.current_processing_time(),
            out: &mut out,
        };
        self.panes.fire(key, &window, contents, &mut window_context);
        let timestamp = window.max_timestamp();
        self.fired.extend(out.into_iter().map(|value| (value, timestamp)));
    }

    /// Adds `window` to the key's merging windows (Flink's `MergingWindowSet.addWindow`);
    /// returns the window the element belongs to after merging.
    fn merge(
        &mut self,
        windows: &mut KeyWindows<P::Contents>,
        new_window: Window,
        ctx: &mut Context<'_, K, O>,
    ) -> Window {
        let mut candidates: Vec<Window> = windows.panes.keys().copied().collect();
        candidates.push(new_window);
        let Some((cover, mut merged)) =
            merge_windows(candidates).into_iter().find(|(_, members)| members.contains(&new_window))
        else {
            return new_window;
        };
        if let Some(position) = merged.iter().position(|window| *window == new_window) {
            merged.remove(position);
        }
        // Nothing to merge: a new window, or one inside an existing window that it does not extend.
        if merged.is_empty() || merged == [cover] {
            return cover;
        }
        // As Flink: merge the contents and let the trigger merge the merged windows' states
        // first, then clear the merged windows' triggers and cleanup timers.
        let mut pane: Pane<P::Contents> = Pane::default();
        let mut old_panes: Vec<(Window, Pane<P::Contents>)> = Vec::with_capacity(merged.len());
        for window in &merged {
            if let Some(mut old) = windows.panes.remove(window) {
                if let Some(contents) = old.contents.take() {
                    self.panes.merge(&mut pane.contents, contents);
                }
                old_panes.push((*window, old));
            }
        }
        let merged_states: Vec<TriggerState> = old_panes.iter().map(|(_, old)| old.trigger.clone()).collect();
        let mut requests = std::mem::take(&mut self.requests);
        self.trigger.on_merge(
            &cover,
            &merged_states,
            &mut Self::trigger_context(&mut requests, &mut pane.trigger, ctx),
        );
        windows.apply(cover, &mut requests, ctx);
        for (window, mut old) in old_panes {
            self.trigger.clear(&window, &mut Self::trigger_context(&mut requests, &mut old.trigger, ctx));
            requests.extend(self.cleanup_request(&window, false));
            windows.apply(window, &mut requests, ctx);
        }
        self.requests = requests;
        windows.panes.insert(cover, pane);
        cover
    }

    /// Drops everything of `window`: contents, trigger state, timers.
    fn clear_window(
        &mut self,
        windows: &mut KeyWindows<P::Contents>,
        window: Window,
        ctx: &mut Context<'_, K, O>,
    ) {
        let mut trigger_state = windows.panes.remove(&window).map(|pane| pane.trigger).unwrap_or_default();
        let mut requests = std::mem::take(&mut self.requests);
        self.trigger.clear(&window, &mut Self::trigger_context(&mut requests, &mut trigger_state, ctx));
        windows.apply(window, &mut requests, ctx);
        self.requests = requests;
        for (timers, event_time) in
            [(&mut windows.event_timers, true), (&mut windows.processing_timers, false)]
        {
            let times: Vec<u64> = timers
                .iter()
                .filter(|(_, members)| members.contains(&window))
                .map(|(time, _)| *time)
                .collect();
            for time in times {
                if remove_timer(timers, time, &window) {
                    if event_time {
                        ctx.delete_event_time_timer(time);
                    } else {
                        ctx.delete_processing_time_timer(time);
                    }
                }
            }
        }
    }

    /// Carries out a trigger's decision for `window`: fire, then purge, as it says.
    fn act(
        &mut self,
        windows: &mut KeyWindows<P::Contents>,
        key: &K,
        window: Window,
        result: TriggerResult,
        ctx: &Context<'_, K, O>,
    ) {
        if result.is_fire() {
            self.fire(windows, key, window, ctx);
        }
        if result.is_purge() {
            if let Some(pane) = windows.panes.get_mut(&window) {
                pane.contents = None;
            }
        }
    }

    fn emit_fired(&mut self, ctx: &mut Context<'_, K, O>) {
        for (value, timestamp) in self.fired.drain(..) {
            ctx.emit_with_timestamp(value, timestamp);
        }
    }

    fn state(&self) -> ValueState<KeyWindows<P::Contents>> {
        self.state.clone().expect("open registers the window state")
    }
}

impl<K: Key, V: Clone + 'static, O, P: PaneOps<K, V, O>> KeyedProcessFunction<K, V, O>
    for WindowOperator<K, V, O, P>
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.state = Some(ctx.value_state("windows"));
    }

    fn process_element(&mut self, value: V, ctx: &mut Context<'_, K, O>) {
        let state = self.state();
        let timestamp = ctx.timestamp();
        let watermark = ctx.current_watermark();
        let key = ctx.key().clone();
        if self.assigner.is_event_time() {
            // Sources reject such times; only a user function emitting one gets here. Windows
            // cannot hold it, and dropping it would be silent.
            if let Err(reason) = check_event_time(timestamp) {
                let operator = self.name.clone();
                self.shared.fail(Error::OutOfRange { operator, key: describe(&key), reason });
                return;
            }
        }
        let mut windows = state.take(ctx).unwrap_or_default();
        let assigned = self.assigner.assign_windows(&value, timestamp, ctx.current_processing_time());
        let mut skipped = true;
        for window in assigned {
            let actual =
                if self.assigner.is_merging() { self.merge(&mut windows, window, ctx) } else { window };
            if self.is_window_late(&actual, watermark) {
                continue;
            }
            skipped = false;
            let pane = windows.panes.entry(actual).or_default();
            self.panes.add(&mut pane.contents, timestamp, value.clone());
            let mut requests = std::mem::take(&mut self.requests);
            let result = self.trigger.on_element(
                &value,
                timestamp,
                &actual,
                &mut Self::trigger_context(&mut requests, &mut pane.trigger, ctx),
            );
            requests.extend(self.cleanup_request(&actual, true));
            windows.apply(actual, &mut requests, ctx);
            self.requests = requests;
            self.act(&mut windows, &key, actual, result, ctx);
        }
        self.emit_fired(ctx);
        if skipped && self.is_element_late(timestamp, watermark) {
            if let Some(tag) = &self.late_tag {
                ctx.emit_to(tag, value);
            }
        }
        if !windows.is_empty() {
            state.update(ctx, windows);
        }
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        let state = self.state();
        let Some(mut windows) = state.take(ctx) else { return };
        let domain = ctx.time_domain().unwrap_or(TimeDomain::EventTime);
        let due = match domain {
            TimeDomain::EventTime => windows.event_timers.remove(&timestamp),
            TimeDomain::ProcessingTime => windows.processing_timers.remove(&timestamp),
        }
        .unwrap_or_default();
        let key = ctx.key().clone();
        for window in due {
            let Some(pane) = windows.panes.get_mut(&window) else { continue };
            let mut requests = std::mem::take(&mut self.requests);
            let mut trigger_context = Self::trigger_context(&mut requests, &mut pane.trigger, ctx);
            let result = match domain {
                TimeDomain::EventTime => self.trigger.on_event_time(timestamp, &window, &mut trigger_context),
                TimeDomain::ProcessingTime => {
                    self.trigger.on_processing_time(timestamp, &window, &mut trigger_context)
                }
            };
            windows.apply(window, &mut requests, ctx);
            self.requests = requests;
            self.act(&mut windows, &key, window, result, ctx);
            let cleanup_domain = if self.assigner.is_event_time() {
                TimeDomain::EventTime
            } else {
                TimeDomain::ProcessingTime
            };
            if domain == cleanup_domain && timestamp == self.cleanup_time(&window) {
                self.clear_window(&mut windows, window, ctx);
            }
        }
        self.emit_fired(ctx);
        if !windows.is_empty() {
            state.update(ctx, windows);
        }
    }
}
