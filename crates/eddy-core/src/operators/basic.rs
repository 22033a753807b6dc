//! Element-wise operators (`map`, `filter`, `flat_map`, `inspect`) and `union`.
//!
//! Element-wise operators are fused: a chain of them runs inside one timely operator, batch by
//! batch, with one dynamic call per stage per batch.

use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Concatenate;

use crate::hash::mix;
use crate::record::Record;
use crate::stream::DataStream;

/// Where [`DataStream::split`] sends a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<A, B> {
    /// To the first stream.
    Left(A),
    /// To the second stream.
    Right(B),
    /// Nowhere.
    Drop,
}

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

    /// Sends every value to one of two streams (or drops it), moving it rather than copying:
    /// cheaper than consuming one stream twice with two filters, which copies every record.
    /// Event times and tags are kept.
    pub fn split<A: Clone + 'static, B: Clone + 'static>(
        self,
        mut route: impl FnMut(T) -> Route<A, B> + 'static,
    ) -> (DataStream<'scope, A>, DataStream<'scope, B>) {
        let context = self.context.clone();
        let mut builder = OperatorBuilder::new("Split".to_owned(), context.scope);
        let mut driver = self.into_chain().attach(&mut builder);
        let (left_output, left_stream) = builder.new_output::<Vec<Record<A>>>();
        let (right_output, right_stream) = builder.new_output::<Vec<Record<B>>>();
        let mut left_output = OutputBuilder::from(left_output);
        let mut right_output = OutputBuilder::from(right_output);
        builder.build(move |_capabilities| {
            let (mut lefts, mut rights) = (Vec::new(), Vec::new());
            move |_frontiers| {
                let mut left = left_output.activate();
                let mut right = right_output.activate();
                driver(&mut |capability, batch| {
                    for record in batch.drain(..) {
                        match route(record.value) {
                            Route::Left(value) => {
                                lefts.push(Record::new(record.timestamp, record.tag, value))
                            }
                            Route::Right(value) => {
                                rights.push(Record::new(record.timestamp, record.tag, value))
                            }
                            Route::Drop => {}
                        }
                    }
                    if !lefts.is_empty() {
                        left.session(capability).give_container(&mut lefts);
                        lefts.clear();
                    }
                    if !rights.is_empty() {
                        right.session(capability).give_container(&mut rights);
                        rights.clear();
                    }
                });
            }
        });
        (
            DataStream::from_stream(context.clone(), left_stream),
            DataStream::from_stream(context, right_stream),
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
