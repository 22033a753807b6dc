//! `connect`: two streams processed together by a keyed co-process function with shared
//! keyed state and timers.

use std::rc::Rc;

use crate::operators::process::{keyed_operator, Key, KeyFn, KeyedCoProcessFunction, TwoInputs};
use crate::record::Data;
use crate::stream::DataStream;

/// Two streams to be processed together.
pub struct ConnectedStreams<'scope, A, B> {
    first: DataStream<'scope, A>,
    second: DataStream<'scope, B>,
}

/// Two streams partitioned by keys of the same type.
pub struct KeyedConnectedStreams<'scope, K, A, B> {
    first: DataStream<'scope, A>,
    second: DataStream<'scope, B>,
    key_first: KeyFn<K, A>,
    key_second: KeyFn<K, B>,
}

impl<'scope, A: Data> DataStream<'scope, A> {
    /// Connects this stream with another, possibly of another type.
    pub fn connect<B: Data>(self, other: DataStream<'scope, B>) -> ConnectedStreams<'scope, A, B> {
        ConnectedStreams { first: self, second: other }
    }
}

impl<'scope, A: Data, B: Data> ConnectedStreams<'scope, A, B> {
    /// Partitions both streams by keys of one type; records of equal keys meet on one worker.
    pub fn key_by<K: Key>(
        self,
        key_first: impl Fn(&A) -> K + 'static,
        key_second: impl Fn(&B) -> K + 'static,
    ) -> KeyedConnectedStreams<'scope, K, A, B> {
        KeyedConnectedStreams {
            first: self.first,
            second: self.second,
            key_first: Rc::new(key_first),
            key_second: Rc::new(key_second),
        }
    }
}

impl<'scope, K: Key, A: Data, B: Data> KeyedConnectedStreams<'scope, K, A, B> {
    /// Applies a keyed co-process function.
    ///
    /// # Event time
    /// The operator's watermark is the minimum of both inputs'. Records of one logical time
    /// are applied per key in order of (event time, input, origin), first input first on ties.
    pub fn process<O: Clone + 'static>(
        self,
        function: impl KeyedCoProcessFunction<K, A, B, O> + 'static,
    ) -> DataStream<'scope, O> {
        let context = self.first.context.clone();
        let first = self.first.into_timely();
        let second = self.second.into_timely();
        keyed_operator(
            context,
            "KeyedCoProcess",
            (first, self.key_first),
            Some((second, self.key_second)),
            TwoInputs(function),
        )
    }
}
