//! Element-wise operators (`map`, `filter`, `flat_map`, `inspect`) and `union`.
//!
//! Element-wise operators are fused: a chain of them runs inside one timely operator, batch by
//! batch, with one dynamic call per stage per batch.

use timely::dataflow::operators::Concatenate;

use crate::hash::mix;
use crate::record::Record;
use crate::stream::DataStream;

impl<'scope, T: Clone + 'static> DataStream<'scope, T> {
    /// Applies `function` to every value; event times are kept.
    pub fn map<U: Clone + 'static>(
        self,
        mut function: impl FnMut(T) -> U + 'static,
    ) -> DataStream<'scope, U> {
        self.stage(
            "Map",
            Box::new(move |batch, out| {
                out.extend(
                    batch
                        .drain(..)
                        .map(|record| Record::new(record.timestamp, record.tag, function(record.value))),
                )
            }),
        )
    }

    /// Keeps the values for which `predicate` holds.
    pub fn filter(self, mut predicate: impl FnMut(&T) -> bool + 'static) -> DataStream<'scope, T> {
        self.stage(
            "Filter",
            Box::new(move |batch, out| {
                batch.retain(|record| predicate(&record.value));
                std::mem::swap(batch, out);
            }),
        )
    }

    /// Replaces every value with the values `function` returns; each keeps the input's event
    /// time.
    pub fn flat_map<U: Clone + 'static, I: IntoIterator<Item = U>>(
        self,
        mut function: impl FnMut(T) -> I + 'static,
    ) -> DataStream<'scope, U> {
        self.stage(
            "FlatMap",
            Box::new(move |batch, out| {
                for record in batch.drain(..) {
                    let (timestamp, tag) = (record.timestamp, record.tag);
                    out.extend(
                        function(record.value)
                            .into_iter()
                            .enumerate()
                            .map(|(index, value)| Record::new(timestamp, mix(tag, index as u64), value)),
                    );
                }
            }),
        )
    }

    /// Calls `observe` with every value and its event time, passing records through unchanged.
    pub fn inspect(self, mut observe: impl FnMut(&T, u64) + 'static) -> DataStream<'scope, T> {
        self.stage(
            "Inspect",
            Box::new(move |batch, out| {
                batch.iter().for_each(|record| observe(&record.value, record.timestamp));
                std::mem::swap(batch, out);
            }),
        )
    }

    /// Merges this stream with others of the same type. Each record keeps its event time and
    /// logical time, so the merged watermark is the minimum of the inputs'.
    pub fn union(self, others: impl IntoIterator<Item = DataStream<'scope, T>>) -> DataStream<'scope, T> {
        let context = self.context.clone();
        let scope = context.scope;
        let streams: Vec<_> = std::iter::once(self)
            .chain(others)
            .map(|stream| stream.into_chain().materialize(scope))
            .collect();
        DataStream::from_stream(context, scope.concatenate(streams))
    }
}
