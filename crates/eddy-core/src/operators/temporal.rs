//! `temporal_join`: the event-time temporal join of a stream with a versioned table (Flink's
//! `FOR SYSTEM_TIME AS OF` join on event time): every record meets the version of its key that
//! was valid at the record's event time.
//!
//! The versioned table is an upsert changelog ([`Change`]) whose records' event times are the
//! times the versions become valid at: `Upsert(k, v)` at `t` makes `v` the version of `k` from
//! `t` on, `Delete(k)` at `t` ends it. Both inputs are keyed (the version's key, the probe
//! record's key function) and run on the keyed engine, so the join's state takes part in
//! checkpoints and restores at another worker count as every keyed operator's does.
//!
//! The per-key history is a [`Versions`] table, the lookup core shared with other operators.

use std::rc::Rc;

use crate::changelog::Change;
use crate::operators::process::{Context, Key, KeyedCoProcessFunction};
use crate::record::Data;
use crate::side_output::OutputTag;
use crate::state::{MapState, OpenContext, ValueState};
use crate::stream::DataStream;
use crate::versioned::Versions;

/// A temporal join being configured: made by [`DataStream::temporal_join`], finished by
/// [`TemporalJoin::inner`] or [`TemporalJoin::left_outer`].
pub struct TemporalJoin<'scope, K, L, V> {
    probe: DataStream<'scope, L>,
    versions: DataStream<'scope, Change<K, V>>,
    key: Rc<dyn Fn(&L) -> K>,
    late: Option<OutputTag<L>>,
}

impl<'scope, L: Data> DataStream<'scope, L> {
    /// Joins every record of this stream with the version of its key (`key`) that was valid at
    /// the record's event time in the versioned table `versions`, like Flink's event-time
    /// temporal join (`JOIN versions FOR SYSTEM_TIME AS OF probe.rowtime ON ...`).
    ///
    /// ```no_run
    /// use eddy_core::prelude::*;
    ///
    /// /// An order (currency, amount) priced with the rate valid when it was placed.
    /// fn priced<'s>(
    ///     orders: DataStream<'s, (String, u64)>,
    ///     rates: DataStream<'s, Change<String, u64>>,
    /// ) -> DataStream<'s, (String, u64)> {
    ///     orders
    ///         .temporal_join(rates, |(currency, _)| currency.clone())
    ///         .inner(|(currency, amount), rate| (currency.clone(), amount * rate))
    /// }
    /// ```
    ///
    /// # Event time
    /// A record is joined once the watermark passes its event time `t`, with the latest
    /// version at or before `t` (a version valid from exactly `t` counts), and the result
    /// carries `t`. Versions that arrive late (below the watermark) still enter the history
    /// and are seen by records joined after them. A probe record that is late (its time is
    /// below the watermark when it arrives) is not joined: its versions may already be
    /// retired. It goes to [`TemporalJoin::side_output_late_data`] if set, else it is dropped,
    /// as in Flink.
    ///
    /// # State
    /// Per key, the buffered records until their time passes and the versions; once the
    /// watermark passes `w`, only the version valid at `w` and later ones are kept
    /// ([`Versions::retire`]); a deleted key keeps its deletion's time as a tombstone, so that a
    /// late version older than the deletion stays hidden.
    ///
    /// # Checkpointing
    /// Keyed state of the keyed engine: restored at any worker count.
    pub fn temporal_join<K: Key, V: Data>(
        self,
        versions: DataStream<'scope, Change<K, V>>,
        key: impl Fn(&L) -> K + 'static,
    ) -> TemporalJoin<'scope, K, L, V> {
        TemporalJoin { probe: self, versions, key: Rc::new(key), late: None }
    }
}

impl<'scope, K: Key, L: Data, V: Data> TemporalJoin<'scope, K, L, V> {
    /// Sends late probe records to the side output `tag` of the join's output instead of
    /// dropping them.
    pub fn side_output_late_data(mut self, tag: OutputTag<L>) -> Self {
        self.late = Some(tag);
        self
    }

    /// The inner join: a record whose key has no version valid at its time gives nothing.
    pub fn inner<O: Clone + 'static>(self, join: impl Fn(&L, &V) -> O + 'static) -> DataStream<'scope, O> {
        self.build(move |probe: &L, version: Option<&V>| version.map(|version| join(probe, version)))
    }

    /// The left outer join: a record whose key has no version valid at its time is joined
    /// with `None`.
    pub fn left_outer<O: Clone + 'static>(
        self,
        join: impl Fn(&L, Option<&V>) -> O + 'static,
    ) -> DataStream<'scope, O> {
        self.build(move |probe: &L, version: Option<&V>| Some(join(probe, version)))
    }

    fn build<O: Clone + 'static>(
        self,
        join: impl Fn(&L, Option<&V>) -> Option<O> + 'static,
    ) -> DataStream<'scope, O> {
        let key = self.key;
        let function = TemporalJoinFunction { join, late: self.late, state: None };
        // Versions are the first input: at equal event times they are applied first, so a
        // version valid from `t` is seen by records at `t`.
        self.versions
            .connect(self.probe)
            .key_by(|change: &Change<K, V>| change.key().clone(), move |probe: &L| key(probe))
            .process(function)
    }
}

/// The keyed state of one key.
struct JoinState<L, V> {
    versions: ValueState<Versions<V>>,
    /// Probe records waiting for the watermark to pass their time, by event time.
    waiting: MapState<u64, Vec<L>>,
}

/// The keyed co-process function behind the join.
struct TemporalJoinFunction<L, V, F> {
    join: F,
    late: Option<OutputTag<L>>,
    state: Option<JoinState<L, V>>,
}

impl<L: Data, V: Data, F> TemporalJoinFunction<L, V, F> {
    fn state(&self) -> &JoinState<L, V> {
        self.state.as_ref().expect("open registers the state")
    }
}

impl<K, L, V, O, F> KeyedCoProcessFunction<K, Change<K, V>, L, O> for TemporalJoinFunction<L, V, F>
where
    K: Key,
    L: Data,
    V: Data,
    F: Fn(&L, Option<&V>) -> Option<O>,
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.state =
            Some(JoinState { versions: ctx.value_state("versions"), waiting: ctx.map_state("waiting") });
    }

    fn process_element1(&mut self, change: Change<K, V>, ctx: &mut Context<'_, K, O>) {
        let state = self.state();
        let timestamp = ctx.timestamp();
        let mut versions = state.versions.value(ctx).unwrap_or_default();
        match change {
            Change::Upsert(_, value) => versions.insert(timestamp, value),
            Change::Delete(_) => versions.delete(timestamp),
        }
        state.versions.update(ctx, versions);
        // Retires the history once the watermark passes the version (at once for a late one).
        let retire_at = timestamp.max(ctx.current_watermark());
        ctx.register_event_time_timer(retire_at);
    }

    fn process_element2(&mut self, probe: L, ctx: &mut Context<'_, K, O>) {
        let timestamp = ctx.timestamp();
        if timestamp < ctx.current_watermark() {
            if let Some(tag) = &self.late {
                ctx.emit_to(tag, probe);
            }
            return;
        }
        let state = self.state();
        let mut waiting = state.waiting.get(ctx, &timestamp).unwrap_or_default();
        waiting.push(probe);
        state.waiting.put(ctx, timestamp, waiting);
        ctx.register_event_time_timer(timestamp);
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, K, O>) {
        let state = self.state();
        let Some(mut versions) = state.versions.value(ctx) else {
            // No version of the key: only an outer join emits.
            if let Some(waiting) = state.waiting.remove(ctx, &timestamp) {
                for probe in &waiting {
                    if let Some(out) = (self.join)(probe, None) {
                        ctx.emit(out);
                    }
                }
            }
            return;
        };
        if let Some(waiting) = state.waiting.remove(ctx, &timestamp) {
            let version = versions.as_of(timestamp);
            for probe in &waiting {
                if let Some(out) = (self.join)(probe, version) {
                    ctx.emit(out);
                }
            }
        }
        // Every later record that is joined has a time at or above the watermark.
        versions.retire(ctx.current_watermark());
        if versions.is_empty() {
            state.versions.clear(ctx);
        } else {
            state.versions.update(ctx, versions);
        }
    }
}
