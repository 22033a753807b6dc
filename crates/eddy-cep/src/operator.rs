//! The CEP operator (Flink's `CepOperator`) on eddy's keyed engine: a [`KeyedProcessFunction`]
//! that buffers each key's events by event time and runs them through the NFA once the
//! watermark has passed them, in timestamp order.
//!
//! # Event time
//! An event whose timestamp is below the watermark when it arrives is late: it goes to the
//! late-data side output if one is set ([`CepStream::side_output_late_data`]) and is dropped
//! otherwise, as in Flink. Every other event is queued under its timestamp with an event-time
//! timer there; the timer fires once the watermark has passed the timestamp, so every event
//! of that timestamp (and earlier) is in the queue. The timer feeds the queued timestamps up to
//! its own in order (events of one timestamp in arrival order, or by
//! [`CepStream::in_order_of`]), advancing the NFA's time to each first, then advances time to
//! the timer's timestamp; partial matches whose window passes time out there (to the timeout
//! side output if one is set). A timer at the earliest window deadline of the key's partial
//! matches makes timeouts happen even when no more events come. When the input ends, all
//! timers fire, so queued events are processed and windowed partial matches time out; partial
//! matches without a window are dropped.
//!
//! # State
//! Per key: the NFA's state (partial matches and the shared buffer) in a value state and the
//! queue in a map state from timestamp to events. Both are cleared when nothing is in progress.
//!
//! # Checkpointing
//! Both states are eddy keyed state, so they are in every checkpoint and savepoint, and are
//! redistributed by key when a job is restored at another parallelism; the pending timers are
//! the keyed engine's.

use std::cmp::Ordering;
use std::rc::Rc;

use eddy_core::operators::keyed::KeyedStream;
use eddy_core::prelude::{
    Context, DataStream, Error, Key, KeyedProcessFunction, MapState, OpenContext, OutputTag, Result,
    ValueState,
};
use eddy_core::record::Data;
use eddy_core::sdk::JobFailure;

use crate::nfa::{Match, Nfa, NfaState, TimedOut};
use crate::pattern::Pattern;

/// A stream of pattern matches in the making: `CEP.pattern(input, pattern)`. Finish it with
/// [`CepStream::select`], [`CepStream::flat_select`] or [`CepStream::process`].
pub struct CepStream<'scope, K, T> {
    input: KeyedStream<'scope, K, T>,
    pattern: Pattern<T>,
    order: Option<Rc<dyn Fn(&T, &T) -> Ordering>>,
    late: Option<OutputTag<T>>,
    timed_out: Option<OutputTag<TimedOut<T>>>,
    processing_time: bool,
}

/// `.pattern(p)` on keyed streams (one NFA per key) and on plain streams (a single NFA, as
/// Flink runs a non-keyed CEP operator at parallelism 1).
pub trait PatternStreamExt<'scope, K, T> {
    /// Applies a pattern.
    fn pattern(self, pattern: Pattern<T>) -> CepStream<'scope, K, T>;
}

impl<'scope, K: Key, T: Data> PatternStreamExt<'scope, K, T> for KeyedStream<'scope, K, T> {
    fn pattern(self, pattern: Pattern<T>) -> CepStream<'scope, K, T> {
        CepStream { input: self, pattern, order: None, late: None, timed_out: None, processing_time: false }
    }
}

impl<'scope, T: Data> PatternStreamExt<'scope, (), T> for DataStream<'scope, T> {
    fn pattern(self, pattern: Pattern<T>) -> CepStream<'scope, (), T> {
        self.key_by(|_| ()).pattern(pattern)
    }
}

impl<'scope, K: Key, T: Data> CepStream<'scope, K, T> {
    /// Orders events with equal timestamps (Flink's `EventComparator`); without it they are
    /// processed in arrival order (which eddy makes deterministic).
    pub fn in_order_of(mut self, order: impl Fn(&T, &T) -> Ordering + 'static) -> Self {
        self.order = Some(Rc::new(order));
        self
    }

    /// Sends late events to `tag` instead of dropping them (Flink's `sideOutputLateData`).
    pub fn side_output_late_data(mut self, tag: OutputTag<T>) -> Self {
        self.late = Some(tag);
        self
    }

    /// Sends partial matches that time out (`within`) to `tag` (Flink's
    /// `TimedOutPartialMatchHandler`); without it they are dropped.
    pub fn side_output_timed_out(mut self, tag: OutputTag<TimedOut<T>>) -> Self {
        self.timed_out = Some(tag);
        self
    }

    /// Matches in processing time (Flink's processing-time CEP): each event is processed when
    /// it arrives, at the injected clock's time, and `within` windows and timeouts follow that
    /// clock (processing-time timers). Results then depend on the clock and on arrival order,
    /// not only on the input.
    pub fn in_processing_time(mut self) -> Self {
        self.processing_time = true;
        self
    }

    /// Calls `function` for every match, with the keyed context: `ctx.emit` for results,
    /// `ctx.emit_to` for side outputs, `ctx.key()`, `ctx.timestamp()` (the time the match
    /// completed). Fails with [`Error::Config`] if the pattern does not compile.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl FnMut(Match<T>, &mut Context<'_, K, O>) + 'static,
    ) -> Result<DataStream<'scope, O>> {
        let nfa = Nfa::compile(&self.pattern, self.timed_out.is_some())
            .map_err(|error| Error::Config(format!("CEP pattern: {error}")))?;
        let failure = self.input.clone().into_stream().env().failure();
        let operator = CepFunction {
            nfa: Rc::new(nfa),
            function,
            order: self.order,
            late: self.late,
            timed_out: self.timed_out,
            processing_time: self.processing_time,
            failure,
            nfa_state: None,
            queue: None,
        };
        Ok(self.input.process(operator))
    }

    /// One result per match (Flink's `select`).
    pub fn select<O: Clone + 'static>(
        self,
        select: impl Fn(&Match<T>) -> O + 'static,
    ) -> Result<DataStream<'scope, O>> {
        self.process(move |found, ctx| ctx.emit(select(&found)))
    }

    /// Any number of results per match (Flink's `flatSelect`).
    pub fn flat_select<O: Clone + 'static, I: IntoIterator<Item = O>>(
        self,
        select: impl Fn(&Match<T>) -> I + 'static,
    ) -> Result<DataStream<'scope, O>> {
        self.process(move |found, ctx| {
            for value in select(&found) {
                ctx.emit(value);
            }
        })
    }
}

struct CepFunction<T, F> {
    nfa: Rc<Nfa<T>>,
    function: F,
    order: Option<Rc<dyn Fn(&T, &T) -> Ordering>>,
    late: Option<OutputTag<T>>,
    timed_out: Option<OutputTag<TimedOut<T>>>,
    processing_time: bool,
    failure: JobFailure,
    nfa_state: Option<ValueState<NfaState<T>>>,
    queue: Option<MapState<i64, Vec<T>>>,
}

impl<K, T, O, F> KeyedProcessFunction<K, T, O> for CepFunction<T, F>
where
    K: Key,
    T: Data,
    O: Clone + 'static,
    F: FnMut(Match<T>, &mut Context<'_, K, O>),
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.nfa_state = Some(ctx.value_state("cep-nfa"));
        self.queue = Some(ctx.map_state("cep-queue"));
    }

    fn process_element(&mut self, value: T, ctx: &mut Context<'_, K, O>) {
        if self.processing_time {
            let now = ctx.current_processing_time() as i64;
            let state_handle = self.nfa_state.clone().expect("open registers the state");
            let mut state = state_handle.value(ctx).unwrap_or_else(|| self.nfa.initial_state());
            if !self.advance(&mut state, now, ctx) {
                return;
            }
            match self.nfa.process(&mut state, value, now, now) {
                Ok(matches) => {
                    for found in matches {
                        (self.function)(found, ctx);
                    }
                }
                Err(error) => {
                    self.failure.fail(error.into());
                    return;
                }
            }
            self.finish(state, now, ctx);
            return;
        }
        let timestamp = ctx.timestamp();
        if timestamp < ctx.current_watermark() {
            if let Some(tag) = &self.late {
                ctx.emit_to(tag, value);
            }
            return;
        }
        let queue = self.queue.as_ref().expect("open registers the state");
        let key = timestamp as i64;
        let mut events = queue.get(ctx, &key).unwrap_or_default();
        events.push(value);
        queue.put(ctx, key, events);
        ctx.register_event_time_timer(timestamp);
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        let now = timestamp as i64;
        if self.processing_time {
            let state_handle = self.nfa_state.clone().expect("open registers the state");
            let mut state = state_handle.value(ctx).unwrap_or_else(|| self.nfa.initial_state());
            if self.advance(&mut state, now, ctx) {
                self.finish(state, now, ctx);
            }
            return;
        }
        let queue = self.queue.clone().expect("open registers the state");
        let state_handle = self.nfa_state.clone().expect("open registers the state");
        let mut due: Vec<(i64, Vec<T>)> =
            queue.entries(ctx).into_iter().filter(|(ts, _)| *ts <= now).collect();
        due.sort_by_key(|(ts, _)| *ts);
        let mut state = state_handle.value(ctx).unwrap_or_else(|| self.nfa.initial_state());
        let processing_time = ctx.current_processing_time() as i64;
        for (ts, mut events) in due {
            queue.remove(ctx, &ts);
            if !self.advance(&mut state, ts, ctx) {
                return;
            }
            if let Some(order) = &self.order {
                events.sort_by(|a, b| order(a, b));
            }
            for event in events {
                match self.nfa.process(&mut state, event, ts, processing_time) {
                    Ok(matches) => {
                        for found in matches {
                            (self.function)(found, ctx);
                        }
                    }
                    Err(error) => {
                        self.failure.fail(error.into());
                        return;
                    }
                }
            }
        }
        if !self.advance(&mut state, now, ctx) {
            return;
        }
        self.finish(state, now, ctx);
    }
}

impl<T: Data, F> CepFunction<T, F> {
    /// Registers a timer at the earliest window deadline and stores the NFA's state (or clears
    /// it when nothing is in progress).
    fn finish<K: Key, O: Clone + 'static>(&self, state: NfaState<T>, now: i64, ctx: &mut Context<'_, K, O>) {
        if let Some(deadline) = self.nfa.next_deadline(&state) {
            if deadline > now {
                if self.processing_time {
                    ctx.register_processing_time_timer(deadline as u64);
                } else {
                    ctx.register_event_time_timer(deadline as u64);
                }
            }
        }
        let state_handle = self.nfa_state.as_ref().expect("open registers the state");
        if state.is_idle() {
            state_handle.clear(ctx);
        } else {
            state_handle.update(ctx, state);
        }
    }

    /// Advances the NFA's time: timed-out partial matches go to their side output, matches
    /// completed by time (a pattern ending with `not_followed_by`) to the function. `false` if
    /// the job failed.
    fn advance<K: Key, O: Clone + 'static>(
        &mut self,
        state: &mut NfaState<T>,
        now: i64,
        ctx: &mut Context<'_, K, O>,
    ) -> bool
    where
        F: FnMut(Match<T>, &mut Context<'_, K, O>),
    {
        match self.nfa.advance_time(state, now) {
            Ok(advanced) => {
                for timed_out in advanced.timed_out {
                    if let Some(tag) = &self.timed_out {
                        ctx.emit_to(tag, timed_out);
                    }
                }
                for found in advanced.matches {
                    (self.function)(found, ctx);
                }
                true
            }
            Err(error) => {
                self.failure.fail(error.into());
                false
            }
        }
    }
}
