//! Lookup joins of a stream against a bounded side table (Nexmark q13's "bounded side input
//! join"; Flink's lookup joins and broadcast side inputs).
//!
//! * [`DataStream::lookup_join`] and [`DataStream::lookup_left_join`] join against a table in
//!   memory (`Arc<HashMap<K, W>>`, shared by all workers). They are fused element-wise stages:
//!   no exchange, no state, no added latency, and they work with checkpoints (the table is part
//!   of the program, not of the job's state).
//! * [`DataStream::lookup_join_stream`] reads a *bounded* side stream completely first: it
//!   broadcasts every side row to every worker and buffers main records until the side
//!   stream has ended, then joins them and everything after them.
//!
//! # Event time
//! A joined record keeps the main record's event time and logical time (buffered records too:
//! the operator holds their capabilities), so joining moves no record to another time.
//!
//! # State
//! The in-memory variants have none. `lookup_join_stream` keeps one copy of the side table per
//! worker and the buffered main records in memory; neither is checkpointed, so a job with
//! checkpoints that uses it fails with a configuration error (read the side input into a
//! table before the job and use `lookup_join` instead).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

use crate::error::Error;
use crate::hash::{mix, HashMap};
use crate::operators::process::Key;
use crate::record::{Data, Record};
use crate::stream::DataStream;

impl<'scope, V: Clone + 'static> DataStream<'scope, V> {
    /// Inner lookup join against an in-memory table: each record whose `key` is in `table` is
    /// replaced by `join(record, &row)`; records without a row are dropped. A fused
    /// element-wise stage (no exchange, no state): the table is shared by every worker through
    /// the `Arc`, so build it once outside the job's build closure.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use eddy_core::hash::HashMap;
    /// use eddy_core::prelude::*;
    /// # fn build<'s>(bids: DataStream<'s, (u64, u64)>, side: Arc<HashMap<u64, String>>) {
    /// // Nexmark q13: each bid (auction, price) with the side value of `auction % 10_000`.
    /// let joined = bids.lookup_join(side, |(auction, _)| auction % 10_000, |bid, value| (bid, value.clone()));
    /// # }
    /// ```
    pub fn lookup_join<K, W, O>(
        self,
        table: Arc<HashMap<K, W>>,
        key: impl Fn(&V) -> K + 'static,
        mut join: impl FnMut(V, &W) -> O + 'static,
    ) -> DataStream<'scope, O>
    where
        K: Hash + Eq + 'static,
        W: 'static,
        O: Clone + 'static,
    {
        self.stage(
            "LookupJoin",
            Box::new(move |batch, out| {
                for record in batch.drain(..) {
                    if let Some(row) = table.get(&key(&record.value)) {
                        out.push(Record::new(record.timestamp, record.tag, join(record.value, row)));
                    }
                }
            }),
        )
    }

    /// Left outer lookup join against an in-memory table: every record is replaced by
    /// `join(record, row)`, with `None` when its `key` is not in `table`. A fused element-wise
    /// stage, like [`lookup_join`](Self::lookup_join).
    pub fn lookup_left_join<K, W, O>(
        self,
        table: Arc<HashMap<K, W>>,
        key: impl Fn(&V) -> K + 'static,
        mut join: impl FnMut(V, Option<&W>) -> O + 'static,
    ) -> DataStream<'scope, O>
    where
        K: Hash + Eq + 'static,
        W: 'static,
        O: Clone + 'static,
    {
        self.map(move |value| {
            let row = table.get(&key(&value));
            join(value, row)
        })
    }
}

impl<'scope, V: Data> DataStream<'scope, V> {
    /// Inner join against a *bounded* side stream of `(key, row)` pairs, read completely
    /// before anything is joined (Flink's broadcast side input). Every side row is sent to
    /// every worker; main records stay on their worker (no exchange of the main stream) and
    /// wait, holding their logical times, until the side stream has ended everywhere; then
    /// each is joined with every side row of its key, as `join(record, &row)`, side rows in
    /// (event time, origin) order. Records without a side row are dropped.
    ///
    /// The side stream must end (a bounded source): until it does, nothing is emitted and the
    /// main stream's records accumulate in memory. Not checkpointed: with
    /// `JobConfig::checkpoint` the job fails with a configuration error.
    pub fn lookup_join_stream<K, W, O>(
        self,
        side: DataStream<'scope, (K, W)>,
        key: impl Fn(&V) -> K + 'static,
        mut join: impl FnMut(V, &W) -> O + 'static,
    ) -> DataStream<'scope, O>
    where
        K: Key,
        W: Data,
        O: Clone + 'static,
    {
        let context = self.context.clone();
        let scope = context.scope;
        let runtime = context.runtime.clone();
        let checkpointed = runtime.shared.checkpoints.get().is_some();
        let peers = scope.peers() as u64;
        // Broadcast: one copy of each side row per worker, keeping its event time and tag.
        let side = side
            .stage(
                "Broadcast",
                Box::new(move |batch, out| {
                    for record in batch.drain(..) {
                        out.extend((0..peers).map(|worker| {
                            Record::new(record.timestamp, record.tag, (worker, record.value.clone()))
                        }));
                    }
                }),
            )
            .into_timely();

        let mut builder = OperatorBuilder::new("LookupJoinStream".to_owned(), scope);
        let mut main = self.into_chain().attach(&mut builder);
        let mut side_input =
            builder.new_input(side, Exchange::new(|record: &Record<(u64, (K, W))>| record.value.0));
        let (output, stream) = builder.new_output::<Vec<Record<O>>>();
        let mut output = OutputBuilder::from(output);

        builder.build(move |_capabilities| {
            // Side rows by key: (event time, tag, row), sorted once the side has ended.
            let mut table: HashMap<K, Vec<(u64, u64, W)>> = HashMap::default();
            let mut complete = false;
            let mut checked = false;
            let mut buffered: BTreeMap<u64, (Capability<u64>, Vec<Record<V>>)> = BTreeMap::new();
            let mut joined: Vec<Record<O>> = Vec::new();
            move |frontiers| {
                if !checked {
                    checked = true;
                    if checkpointed {
                        runtime.shared.fail(Error::Config(
                            "lookup_join_stream keeps its side table outside checkpoints; use \
                             lookup_join with a table read before the job"
                                .into(),
                        ));
                    }
                }
                side_input.for_each(|_capability, batch| {
                    for record in batch.drain(..) {
                        let (_, (key, row)) = record.value;
                        table.entry(key).or_default().push((record.timestamp, record.tag, row));
                    }
                });
                if runtime.shared.failed() || runtime.shared.halted() {
                    buffered.clear();
                    main(&mut |_capability, batch| batch.clear());
                    return;
                }
                if !complete && frontiers[1].frontier().is_empty() {
                    complete = true;
                    for rows in table.values_mut() {
                        rows.sort_by_key(|(timestamp, tag, _)| (*timestamp, *tag));
                    }
                }
                let mut output = output.activate();
                let mut join_into = |records: &mut Vec<Record<V>>, out: &mut Vec<Record<O>>| {
                    for record in records.drain(..) {
                        let Some(rows) = table.get(&key(&record.value)) else { continue };
                        for (index, (_, _, row)) in rows.iter().enumerate() {
                            let tag = mix(record.tag, index as u64);
                            out.push(Record::new(record.timestamp, tag, join(record.value.clone(), row)));
                        }
                    }
                };
                if complete {
                    for (_, (capability, mut records)) in std::mem::take(&mut buffered) {
                        join_into(&mut records, &mut joined);
                        if !joined.is_empty() {
                            output.session(&capability).give_container(&mut joined);
                            joined.clear();
                        }
                    }
                }
                main(&mut |capability, batch| {
                    if complete {
                        join_into(batch, &mut joined);
                        if !joined.is_empty() {
                            output.session(capability).give_container(&mut joined);
                            joined.clear();
                        }
                    } else if let Some(retained) = capability.retain_least(0) {
                        let time = *retained.time();
                        buffered.entry(time).or_insert_with(|| (retained, Vec::new())).1.append(batch);
                    }
                });
            }
        });
        DataStream::from_stream(context, stream)
    }
}
