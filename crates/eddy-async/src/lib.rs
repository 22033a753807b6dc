//! Async I/O for eddy's DataStream API (Flink's `AsyncDataStream`): enrich every record with
//! the answer of an external service (an HTTP API, a database) without blocking the worker,
//! with many requests in flight at once.
//!
//! * [`AsyncDataStream::ordered_wait`] emits results in the order the records arrived at
//!   the worker; [`AsyncDataStream::unordered_wait`] emits each result as soon as its request
//!   completes. [`AsyncMap::async_map`] is `ordered_wait` as a method.
//! * [`AsyncOptions`]: `capacity` (requests in flight per worker; more records wait in a
//!   queue), `timeout` (per attempt), `retry` ([`AsyncRetryStrategy`]: fixed delay or
//!   exponential back-off, with a predicate on the failure), and what a request that failed
//!   for good becomes: [`OnFailure::Fail`] (the job fails, Flink's default), `Drop`, or a
//!   `Fallback` value (Flink's `timeout()` override); separately for timeouts and errors.
//! * The futures run on one tokio runtime per process ([`job_runtime`]), shared by every
//!   operator instance; a completed request wakes its timely operator through a
//!   `SyncActivator`. eddy-core does not depend on tokio.
//!
//! ```no_run
//! use std::time::Duration;
//! use eddy_async::{AsyncDataStream, AsyncOptions, AsyncRetryStrategy, OnFailure};
//! use eddy_core::prelude::*;
//!
//! # fn build<'s>(ids: DataStream<'s, u64>) {
//! let options = AsyncOptions::new(Duration::from_millis(200), 64)
//!     .retry(AsyncRetryStrategy::exponential_backoff(3, Duration::from_millis(10), Duration::from_secs(1), 2.0))
//!     .on_timeout(OnFailure::fallback(|id: &u64, _| (*id, None)));
//! let enriched: DataStream<'s, (u64, Option<String>)> = AsyncDataStream::unordered_wait(
//!     ids,
//!     |id: u64| async move { Ok((id, Some(format!("profile of {id}")))) },
//!     options,
//! );
//! # }
//! ```
//!
//! # Event time
//! A result keeps its record's event time and logical time. The operator holds the logical
//! time of every record it has not answered yet, so watermarks (eddy's logical times) wait
//! for slow requests: unordered mode reorders results only among records of one logical
//! time, never across a watermark, as in Flink. Downstream keyed operators apply the records
//! of a logical time in a canonical order once the time is complete, so event-time results do
//! not depend on completion order or worker count (as long as the service answers the same
//! request the same way).
//!
//! # Checkpointing
//! A checkpoint is a cut at a logical time `E`. Since the operator holds the logical time of
//! every unanswered record, the cut completes only once every record of a time before `E`
//! has its result emitted (and, through the sinks, staged for commit): no request is in flight
//! across a completed checkpoint, so the operator's checkpointed in-flight set is empty by
//! construction and it writes no part. On restore, the sources replay every record at or
//! after `E`, and their requests are issued again: every record is enriched exactly once in
//! committed output (a service may see a request more than once, as with Flink's re-issued
//! in-flight elements). Unlike Flink, which snapshots in-flight elements so the barrier need
//! not wait, eddy waits: moving a result to a logical time after the cut would make
//! event-time results depend on when checkpoints happened. A checkpoint is therefore delayed
//! by at most the slowest request (timeout × attempts plus back-off).

mod operator;
mod retry;
mod runtime;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use eddy_core::record::Data;
use eddy_core::stream::DataStream;

use crate::operator::{async_wait, Mode};
pub use crate::retry::{AsyncFailure, AsyncRetryStrategy, Backoff, BoxError, RetryPredicate};
pub use crate::runtime::job_runtime;

/// What a request that failed for good (after its retries) becomes.
pub enum OnFailure<I, O> {
    /// The job fails with an external error naming the failure (Flink's default).
    Fail,
    /// The record is dropped.
    Drop,
    /// The record's result is this function of the record and the failure (Flink's
    /// `timeout()` override completing with a default).
    Fallback(Arc<dyn Fn(&I, &AsyncFailure) -> O + Send + Sync>),
}

impl<I, O> OnFailure<I, O> {
    /// [`OnFailure::Fallback`] from a closure.
    pub fn fallback(function: impl Fn(&I, &AsyncFailure) -> O + Send + Sync + 'static) -> Self {
        OnFailure::Fallback(Arc::new(function))
    }
}

impl<I, O> Clone for OnFailure<I, O> {
    fn clone(&self) -> Self {
        match self {
            OnFailure::Fail => OnFailure::Fail,
            OnFailure::Drop => OnFailure::Drop,
            OnFailure::Fallback(function) => OnFailure::Fallback(Arc::clone(function)),
        }
    }
}

/// The settings of an async operator (Flink's `timeout`, `capacity` and retry strategy
/// arguments of `AsyncDataStream.unorderedWait`).
pub struct AsyncOptions<I, O> {
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// Requests in flight per worker at most (at least 1); further records queue.
    pub capacity: usize,
    /// How failed attempts are retried.
    pub retry: AsyncRetryStrategy,
    /// What a request whose last attempt timed out becomes.
    pub on_timeout: OnFailure<I, O>,
    /// What a request whose last attempt failed with an error becomes.
    pub on_error: OnFailure<I, O>,
}

impl<I, O> Clone for AsyncOptions<I, O> {
    fn clone(&self) -> Self {
        AsyncOptions {
            timeout: self.timeout,
            capacity: self.capacity,
            retry: self.retry.clone(),
            on_timeout: self.on_timeout.clone(),
            on_error: self.on_error.clone(),
        }
    }
}

impl<I, O> AsyncOptions<I, O> {
    /// `timeout` per attempt and `capacity` requests in flight per worker; no retries;
    /// failures fail the job.
    pub fn new(timeout: Duration, capacity: usize) -> Self {
        AsyncOptions {
            timeout,
            capacity: capacity.max(1),
            retry: AsyncRetryStrategy::no_retry(),
            on_timeout: OnFailure::Fail,
            on_error: OnFailure::Fail,
        }
    }

    /// Retries failed attempts with `strategy`.
    pub fn retry(mut self, strategy: AsyncRetryStrategy) -> Self {
        self.retry = strategy;
        self
    }

    /// What a request that timed out for good becomes.
    pub fn on_timeout(mut self, policy: OnFailure<I, O>) -> Self {
        self.on_timeout = policy;
        self
    }

    /// What a request that failed for good with an error becomes.
    pub fn on_error(mut self, policy: OnFailure<I, O>) -> Self {
        self.on_error = policy;
        self
    }
}

/// Flink's `AsyncDataStream`: async operators on a [`DataStream`].
pub struct AsyncDataStream;

impl AsyncDataStream {
    /// Calls `function` for every record and emits its results in the order the records
    /// arrived at the worker (Flink's `orderedWait`). See the [crate docs](crate).
    pub fn ordered_wait<'scope, I, O, F, Fut>(
        stream: DataStream<'scope, I>,
        function: F,
        options: AsyncOptions<I, O>,
    ) -> DataStream<'scope, O>
    where
        I: Data,
        O: Clone + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, BoxError>> + Send + 'static,
    {
        async_wait(stream, function, options, Mode::Ordered)
    }

    /// Calls `function` for every record and emits each result as its request completes,
    /// never across a logical time (Flink's `unorderedWait`). See the [crate docs](crate).
    pub fn unordered_wait<'scope, I, O, F, Fut>(
        stream: DataStream<'scope, I>,
        function: F,
        options: AsyncOptions<I, O>,
    ) -> DataStream<'scope, O>
    where
        I: Data,
        O: Clone + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, BoxError>> + Send + 'static,
    {
        async_wait(stream, function, options, Mode::Unordered)
    }
}

/// Async operators as methods of [`DataStream`] (import the trait).
pub trait AsyncMap<'scope, I> {
    /// [`AsyncDataStream::ordered_wait`] on this stream.
    fn async_map<O, F, Fut>(self, function: F, options: AsyncOptions<I, O>) -> DataStream<'scope, O>
    where
        O: Clone + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, BoxError>> + Send + 'static;

    /// [`AsyncDataStream::unordered_wait`] on this stream.
    fn async_map_unordered<O, F, Fut>(
        self,
        function: F,
        options: AsyncOptions<I, O>,
    ) -> DataStream<'scope, O>
    where
        O: Clone + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, BoxError>> + Send + 'static;
}

impl<'scope, I: Data> AsyncMap<'scope, I> for DataStream<'scope, I> {
    fn async_map<O, F, Fut>(self, function: F, options: AsyncOptions<I, O>) -> DataStream<'scope, O>
    where
        O: Clone + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, BoxError>> + Send + 'static,
    {
        AsyncDataStream::ordered_wait(self, function, options)
    }

    fn async_map_unordered<O, F, Fut>(self, function: F, options: AsyncOptions<I, O>) -> DataStream<'scope, O>
    where
        O: Clone + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, BoxError>> + Send + 'static,
    {
        AsyncDataStream::unordered_wait(self, function, options)
    }
}
