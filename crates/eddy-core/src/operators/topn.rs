//! Top-N per key: the `N` best rows of each key, as an upsert changelog of ranks (Flink SQL's
//! `ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC) <= N`, Nexmark q19).
//!
//! # Event time
//! Rows are applied in eddy's deterministic order (logical time, then event time, then origin
//! tag; see `docs/architecture.md`), so rankings and ties do not depend on the worker count.
//! Each change carries the event time of the row whose arrival caused it.
//!
//! # State
//! Per key, the operator keeps at most `N` rows, sorted by rank, in one value state (`"top-n"`).
//! The input is append-only, so a row that falls out of the top `N` can never come back and is
//! dropped: state is bounded by `N` rows per key.

use std::cmp::Ordering;

use crate::changelog::Change;
use crate::operators::keyed::KeyedStream;
use crate::operators::process::{Context, Key, KeyedProcessFunction};
use crate::record::Data;
use crate::state::{OpenContext, StateValue, ValueState};
use crate::stream::DataStream;

impl<'scope, K: Key, V: Data> KeyedStream<'scope, K, V> {
    /// Keeps the `n` best rows of each key and emits an upsert changelog keyed by
    /// `(key, rank)`, ranks `1..=n`.
    ///
    /// `order` sorts rows like [`slice::sort_by`]: a row that compares `Less` ranks before
    /// (better than) the other, so `|a, b| b.price.cmp(&a.price)` is `ORDER BY price DESC`.
    /// **Ties** are broken by arrival: of two rows that compare `Equal`, the one applied first
    /// ranks first (a stable sort in eddy's deterministic application order: logical time,
    /// event time, origin tag), so a new row equal to the `n`-th one does not enter.
    ///
    /// When a row enters at rank `r`, the rows from rank `r` down shift by one and the operator
    /// emits `Change::Upsert((key, i), row)` for every rank `i` from `r` to the last occupied
    /// one (at most `n`); consolidated, the changelog is the current top `n` of every key.
    /// The input is append-only, so no rank ever becomes empty again and `top_n` emits no
    /// `Change::Delete`: a consumer may still treat the stream as a general upsert changelog.
    ///
    /// ```no_run
    /// use eddy_core::prelude::*;
    /// # fn build<'s>(bids: DataStream<'s, (u64, u64)>) {
    /// // The 10 highest bids (auction, price) per auction.
    /// let top = bids.key_by(|(auction, _): &(u64, u64)| *auction).top_n(10, |a, b| b.1.cmp(&a.1));
    /// # }
    /// ```
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn top_n(
        self,
        n: usize,
        order: impl Fn(&V, &V) -> Ordering + 'static,
    ) -> DataStream<'scope, Change<(K, u64), V>> {
        assert!(n > 0, "top_n needs n >= 1");
        self.process_named("TopN", TopN { n, order, rows: None })
    }

    /// [`top_n`](Self::top_n) ordered by a field, largest first (`ORDER BY field DESC`); ties
    /// by arrival.
    pub fn top_n_by_desc<S: Ord>(
        self,
        n: usize,
        field: impl Fn(&V) -> S + 'static,
    ) -> DataStream<'scope, Change<(K, u64), V>> {
        self.top_n(n, move |a, b| field(b).cmp(&field(a)))
    }

    /// [`top_n`](Self::top_n) ordered by a field, smallest first (`ORDER BY field ASC`); ties
    /// by arrival.
    pub fn top_n_by_asc<S: Ord>(
        self,
        n: usize,
        field: impl Fn(&V) -> S + 'static,
    ) -> DataStream<'scope, Change<(K, u64), V>> {
        self.top_n(n, move |a, b| field(a).cmp(&field(b)))
    }
}

/// The keyed function behind `top_n`.
struct TopN<V, F> {
    n: usize,
    order: F,
    rows: Option<ValueState<Vec<V>>>,
}

impl<K: Key, V: StateValue, F: Fn(&V, &V) -> Ordering> KeyedProcessFunction<K, V, Change<(K, u64), V>>
    for TopN<V, F>
{
    fn open(&mut self, ctx: &mut OpenContext<'_, K>) {
        self.rows = Some(ctx.value_state("top-n"));
    }

    fn process_element(&mut self, value: V, ctx: &mut Context<'_, K, Change<(K, u64), V>>) {
        let state = self.rows.as_ref().expect("open registers the state");
        let mut rows = state.take(ctx).unwrap_or_default();
        // After every row that is not worse: ties rank by arrival.
        let position = rows.partition_point(|existing| (self.order)(existing, &value) != Ordering::Greater);
        if position < self.n {
            rows.insert(position, value);
            rows.truncate(self.n);
            let key = ctx.key().clone();
            for (index, row) in rows.iter().enumerate().skip(position) {
                ctx.emit(Change::Upsert((key.clone(), index as u64 + 1), row.clone()));
            }
        }
        state.update(ctx, rows);
    }
}
